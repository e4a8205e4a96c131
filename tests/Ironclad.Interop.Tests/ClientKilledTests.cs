// One end-to-end check of the server's resilience (protocol abuse has its own unit tests in
// Ironclad.Nbd.Tests): a qemu-img convert SIGKILLed in the middle of copying into the export must
// not disturb a client connected all along, nor keep new clients from being served, nor make the
// server log an error.
using System.Globalization;
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class ClientKilledTests
{
    private const int ImageBytes = 32 << 20;

    /// <summary>The copy is throttled so it is surely still running when it is killed: 32 MiB at 4 MiB/s is 8 s.</summary>
    private const long RateLimitBytesPerSecond = 4L << 20;

    private const long BystanderOffset = 512L << 20;

    [Fact]
    public async Task The_server_keeps_serving_others_after_a_client_is_killed_mid_transfer()
    {
        NbdClients.Require(NbdClients.QemuImg, NbdClients.QemuIo, NbdClients.NbdInfo, NbdClients.NbdCopy);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        await using var scratch = await Scratch.StartAsync(temporary.Combine("data"), cancellationToken: cancellationToken);
        var endpoint = Scratch.Endpoint(scratch);
        var image = RandomImage.Create(temporary.Combine("source.raw"), ImageBytes, seed);
        var bystanderRead = string.Create(CultureInfo.InvariantCulture, $"read -P 0x66 {BystanderOffset} 1M");
        (await NbdClients.QemuIoAsync(endpoint, [string.Create(CultureInfo.InvariantCulture, $"write -P 0x66 {BystanderOffset} 1M")], cancellationToken: cancellationToken))
            .EnsureSuccess();

        // A bystander connected before, during and after the kill: reads every 100 ms for about 4 s.
        await using var bystander = NbdClients.Find(NbdClients.QemuIo).Start(
            [.. Enumerable.Range(0, 40).SelectMany(_ => new[] { "-c", bystanderRead, "-c", "sleep 100" }), "-r", .. endpoint.QemuImageArguments]);
        await using var copy = NbdClients.Find(NbdClients.QemuImg).Start(
            NbdClients.QemuImgConvertToExportArguments(image.Path, endpoint, RateLimitBytesPerSecond));

        await WaitForDataAtStartAsync(endpoint, copy, cancellationToken);
        Assert.False(copy.HasExited, $"`{copy.CommandLine}` finished before it could be killed:\n{copy.StandardError}");
        await copy.KillAsync();

        (await bystander.WaitForExitAsync(NbdClients.Timeout, cancellationToken)).EnsureSuccess("the bystander connected across the kill");

        // New clients: the whole copy again, then read back by another client.
        (await NbdClients.QemuImgConvertToExportAsync(image.Path, endpoint, cancellationToken)).EnsureSuccess("a new copy after the kill");
        var back = temporary.Combine("back.raw");
        (await NbdClients.NbdCopyAsync(endpoint.LibnbdUri, back, cancellationToken: cancellationToken)).EnsureSuccess("reading it back");
        await image.AssertIsPrefixOfAsync(back, cancellationToken);
        (await NbdClients.QemuIoAsync(endpoint, [bystanderRead], readOnly: true, cancellationToken)).EnsureSuccess("the bystander's data is intact");

        Assert.False(scratch.Process.HasExited, $"the server exited:\n{scratch.Process.CapturedOutput()}");
        ServerLog.AssertNoErrors(scratch.Process);
    }

    /// <summary>Waits (at most 20 s) until the copy's first writes show as data at the start of the export.</summary>
    private static async Task WaitForDataAtStartAsync(NbdEndpoint endpoint, Ironclad.Testing.Tools.ToolRun copy, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var map = await NbdClients.NbdInfoMapAsync(endpoint, cancellationToken);
            if (map.Count > 0 && map[0].Offset == 0 && !map[0].IsHole)
            {
                return;
            }

            Assert.True(!copy.HasExited && DateTime.UtcNow < deadline,
                $"`{copy.CommandLine}` wrote nothing visible at offset 0 (exited: {copy.HasExited}).\n{copy.StandardError}");
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }
}
