// The positive control for every "no plaintext at rest" check in this project: the same writes
// through the same server, with encryption switched off (`serve-scratch --cipher none`, which exists
// only to measure what encryption costs), must be found by the same scan. Without it a scan that
// silently read nothing, or the wrong directory, would pass every test. Each pattern here occurs
// exactly once in what is written (the scan reports every overlapping hit, so a long run of one
// byte would be found hundreds of thousands of times).
using System.Globalization;
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class PlaintextControlTests
{
    [Fact]
    public async Task The_scan_finds_what_was_written_through_the_unencrypted_development_cipher()
    {
        NbdClients.Require(NbdClients.QemuIo, NbdClients.QemuImg);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, cipher: "none", cancellationToken: cancellationToken);
        Assert.Contains("UNENCRYPTED", scratch.Process.StandardError, StringComparison.Ordinal);
        var endpoint = Scratch.Endpoint(scratch);

        // The same two kinds of data the other tests scan for: seeded random bytes (qemu-img) and runs of one byte (qemu-io -P).
        var image = RandomImage.Create(temporary.Combine("source.raw"), 4 << 20, seed);
        (await NbdClients.QemuImgConvertToExportAsync(image.Path, endpoint, cancellationToken)).EnsureSuccess();
        byte[] runValues = [0x3c, 0x5a, 0xa5];
        var runOffsets = new long[] { 64L << 20, (96L << 20) + 4000, (128L << 20) + 65500 };
        (await NbdClients.QemuIoAsync(
            endpoint,
            runValues.Select((value, i) => string.Create(CultureInfo.InvariantCulture, $"write -P 0x{value:x2} {runOffsets[i]} {PatternWrites.ScanRunBytes}")),
            cancellationToken: cancellationToken)).EnsureSuccess();

        IReadOnlyList<byte[]> patterns =
        [
            .. image.Samples(16, 32, seed),
            .. runValues.Select(value => Enumerable.Repeat(value, PatternWrites.ScanRunBytes).ToArray()),
        ];
        var found = PlaintextScanner.Scan(Scratch.VolumesDirectory(dataDirectory), patterns).Select(f => f.PatternIndex).ToHashSet();
        var missing = Enumerable.Range(0, patterns.Count).Where(i => !found.Contains(i)).ToList();
        Assert.True(missing.Count == 0, $"the scan missed patterns {string.Join(", ", missing)} of {patterns.Count} written in plaintext");
    }
}
