// nbdcopy (libnbd) against the real `ironclad dev serve-scratch` process: a seeded random image
// into the export and back, over one connection and over four at once (the export advertises
// NBD_FLAG_CAN_MULTI_CONN, so nbdcopy spreads requests across connections).
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using Ironclad.Testing.Tools;

namespace Ironclad.Interop.Tests;

public sealed class NbdCopyTests
{
    private const int ImageBytes = 32 << 20;

    /// <summary>NBD event "client attached export" in the server's log.</summary>
    private const int ClientAttachedEvent = 3002;

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Nbdcopy_copies_a_raw_image_into_the_export_and_back_unchanged(int connections)
    {
        NbdClients.Require(NbdClients.NbdCopy);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, cancellationToken: cancellationToken);
        var endpoint = Scratch.Endpoint(scratch);
        var image = RandomImage.Create(temporary.Combine("source.raw"), ImageBytes, seed);

        var upload = await CountAttachedAsync(
            scratch.Process, connections, () => NbdClients.NbdCopyAsync(image.Path, endpoint.LibnbdUri, connections, cancellationToken), "file to export");
        var copy = temporary.Combine("copy.raw");
        var download = await CountAttachedAsync(
            scratch.Process, connections, () => NbdClients.NbdCopyAsync(endpoint.LibnbdUri, copy, connections, cancellationToken), "export to file");

        Assert.Equal(Scratch.SizeBytes, new FileInfo(copy).Length);
        Assert.Equal(image.Sha256PaddedTo(Scratch.SizeBytes), await RandomImage.Sha256OfFileAsync(copy, cancellationToken));
        // nbdcopy opens one connection, sees CAN_MULTI_CONN, and opens the rest.
        Assert.True(upload >= connections && download >= connections,
            $"expected {connections} NBD connections per copy; the server saw {upload} and {download}.\n{scratch.Process.CapturedOutput()}");
        await AtRest.AssertNoPlaintextAsync(Scratch.VolumesDirectory(dataDirectory), image.Samples(32, 32, seed), ImageBytes);
        ServerLog.AssertNoErrors(scratch.Process);
    }

    /// <summary>How many clients attached while <paramref name="copy"/> ran (waiting briefly for <paramref name="expected"/> log lines to be read).</summary>
    private static async Task<int> CountAttachedAsync(IroncladProcess server, int expected, Func<Task<ToolResult>> copy, string what)
    {
        var before = ServerLog.CountEvents(server, ClientAttachedEvent);
        (await copy()).EnsureSuccess(what);
        return await ServerLog.WaitForEventsAsync(server, ClientAttachedEvent, before + expected, TimeSpan.FromSeconds(5)) - before;
    }
}
