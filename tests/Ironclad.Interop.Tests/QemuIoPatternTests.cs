// qemu-io writes byte patterns (`write -P`) at offsets that stress the data path and reads them
// back (`read -P`, which fails on the first wrong byte) over new connections: a fresh qemu-io
// process per round, so nothing can come from a client cache; and across a server restart on the
// same data directory. Afterwards none of the patterns may be found in the store's files.
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class QemuIoPatternTests
{
    private const long InProcessVolumeBytes = 64L << 20;

    [Fact]
    public async Task Patterns_at_aligned_unaligned_and_cluster_crossing_offsets_read_back_over_fresh_connections()
    {
        NbdClients.Require(NbdClients.QemuIo);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, cancellationToken: cancellationToken);
        var endpoint = Scratch.Endpoint(scratch);

        var first = PatternWrites.Create(Scratch.SizeBytes, seed);
        (await NbdClients.QemuIoAsync(endpoint, first.WriteCommands, cancellationToken: cancellationToken)).EnsureSuccess("writing the patterns");
        (await NbdClients.QemuIoAsync(endpoint, first.VerifyCommands, readOnly: true, cancellationToken)).EnsureSuccess("reading them on a new connection");

        var second = first.OverwriteEveryOther();
        (await NbdClients.QemuIoAsync(endpoint, second.ChangedSince(first).Select(w => w.WriteCommand), cancellationToken: cancellationToken))
            .EnsureSuccess("overwriting every other pattern on a third connection");
        (await NbdClients.QemuIoAsync(endpoint, second.VerifyCommands, readOnly: true, cancellationToken)).EnsureSuccess("reading the mix on a fourth connection");

        await AtRest.AssertNoPlaintextAsync(
            Scratch.VolumesDirectory(dataDirectory), [.. first.ScanPatterns, .. second.ScanPatterns], first.Writes.Sum(w => (long)w.Length));
        ServerLog.AssertNoErrors(scratch.Process);
    }

    [Fact]
    public async Task A_wrong_pattern_is_reported_as_a_verification_failure()
    {
        // The read-back checks above are only worth something if qemu-io really fails on a mismatch.
        NbdClients.Require(NbdClients.QemuIo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        await using var server = await InProcessVolumeServer.StartAsync(temporary.Combine("store"), InProcessVolumeBytes);
        var endpoint = server.Endpoint();

        (await NbdClients.QemuIoAsync(endpoint, ["write -P 0x5a 4096 4096"], cancellationToken: cancellationToken)).EnsureSuccess();
        var result = (await NbdClients.QemuIoAsync(endpoint, ["read -P 0x5b 4096 4096", "read -P 0x5a 4096 4096"], readOnly: true, cancellationToken))
            .EnsureFailure("reading the wrong pattern, then the right one");
        Assert.Contains("Pattern verification failed at offset 4096", result.CombinedOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Patterns_survive_a_server_restart_on_the_same_data_directory()
    {
        NbdClients.Require(NbdClients.QemuIo);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        await using var server = await InProcessVolumeServer.StartAsync(temporary.Combine("store"), InProcessVolumeBytes);

        var first = PatternWrites.Create(InProcessVolumeBytes, seed);
        (await NbdClients.QemuIoAsync(server.Endpoint(), first.WriteCommands, cancellationToken: cancellationToken)).EnsureSuccess("writing the patterns");

        await server.RestartAsync();
        (await NbdClients.QemuIoAsync(server.Endpoint(), first.VerifyCommands, readOnly: true, cancellationToken))
            .EnsureSuccess("reading them after the first restart");

        var second = first.OverwriteEveryOther();
        (await NbdClients.QemuIoAsync(server.Endpoint(), second.ChangedSince(first).Select(w => w.WriteCommand), cancellationToken: cancellationToken))
            .EnsureSuccess("overwriting every other pattern");

        await server.RestartAsync();
        (await NbdClients.QemuIoAsync(server.Endpoint(), second.VerifyCommands, readOnly: true, cancellationToken))
            .EnsureSuccess("reading the mix after the second restart");
        Assert.Equal(3, server.Generation);

        await server.StopAsync();
        await AtRest.AssertNoPlaintextAsync(server.StoreDirectory, [.. first.ScanPatterns, .. second.ScanPatterns], first.Writes.Sum(w => (long)w.Length));
    }
}
