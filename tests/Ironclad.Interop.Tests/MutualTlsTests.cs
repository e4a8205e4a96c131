// NBD with mutual TLS against the real `ironclad dev serve-scratch --tls mutual` process: a client
// presenting the certificate `ironclad dev issue-client-cert` issued is served; one presenting no
// certificate, or a clientAuth certificate from another CA, is refused at the TLS handshake, and
// the same server then still serves the legitimate client (so the refusal was about the client).
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Interop.Tests;

public sealed class MutualTlsTests
{
    private const int ImageBytes = 16 << 20;

    /// <summary>NBD event "client failed the TLS handshake" (its certificate was missing or rejected).</summary>
    private const int TlsHandshakeFailedEvent = 3005;

    [Fact]
    public async Task Mutual_tls_serves_clients_presenting_the_issued_client_certificate()
    {
        NbdClients.Require(NbdClients.QemuImg, NbdClients.QemuIo, NbdClients.NbdInfo, NbdClients.NbdCopy);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, tls: "mutual", cancellationToken: cancellationToken);
        var endpoint = Scratch.Endpoint(scratch, await TlsCredentials.IssueAsync(dataDirectory, "interop-client", temporary.Combine("client"), cancellationToken));

        var size = (await NbdClients.NbdInfoAsync(endpoint, ["--size"], cancellationToken)).EnsureSuccess("nbdinfo with the client certificate");
        Assert.Equal(Scratch.SizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), size.StandardOutput.Trim());

        var patterns = PatternWrites.Create(Scratch.SizeBytes, seed);
        (await NbdClients.QemuIoAsync(endpoint, patterns.WriteCommands, cancellationToken: cancellationToken)).EnsureSuccess("qemu-io writing");
        (await NbdClients.QemuIoAsync(endpoint, patterns.VerifyCommands, readOnly: true, cancellationToken)).EnsureSuccess("qemu-io reading");

        var image = RandomImage.Create(temporary.Combine("source.raw"), ImageBytes, seed);
        (await NbdClients.NbdCopyAsync(image.Path, endpoint.LibnbdUri, cancellationToken: cancellationToken)).EnsureSuccess("nbdcopy into the export");
        var copy = temporary.Combine("copy.raw");
        (await NbdClients.QemuImgConvertFromExportAsync(endpoint, copy, cancellationToken)).EnsureSuccess("qemu-img convert out of the export");
        Assert.Equal(Scratch.SizeBytes, new FileInfo(copy).Length);
        await image.AssertIsPrefixOfAsync(copy, cancellationToken);

        await AtRest.AssertNoPlaintextAsync(
            Scratch.VolumesDirectory(dataDirectory), [.. patterns.ScanPatterns, .. image.Samples(16, 32, seed)], ImageBytes);
        ServerLog.AssertNoErrors(scratch.Process);
    }

    [Fact]
    public async Task Mutual_tls_refuses_a_client_without_a_client_certificate()
    {
        NbdClients.Require(NbdClients.QemuImg, NbdClients.QemuIo, NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, tls: "mutual", cancellationToken: cancellationToken);
        var anonymous = Scratch.Endpoint(scratch, TlsCredentials.TrustOnly(Scratch.CaCertificate(dataDirectory), temporary.Combine("trust")));

        await AssertRefusedAsync(scratch, anonymous, cancellationToken);
        await AssertServedAfterwardsAsync(scratch, dataDirectory, temporary, cancellationToken);
    }

    [Fact]
    public async Task Mutual_tls_refuses_a_client_certificate_from_another_ca()
    {
        NbdClients.Require(NbdClients.QemuImg, NbdClients.QemuIo, NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, tls: "mutual", cancellationToken: cancellationToken);
        var impostor = Scratch.Endpoint(scratch, TlsCredentials.ForeignClientCertificate(Scratch.CaCertificate(dataDirectory), temporary.Combine("impostor")));

        await AssertRefusedAsync(scratch, impostor, cancellationToken);
        await AssertServedAfterwardsAsync(scratch, dataDirectory, temporary, cancellationToken);
    }

    /// <summary>
    /// Every client fails to connect because the server rejected it at the TLS handshake (it logs
    /// each one), and a write attempt leaves the export unchanged (checked afterwards).
    /// </summary>
    private static async Task AssertRefusedAsync(IroncladScratch scratch, NbdEndpoint endpoint, CancellationToken cancellationToken)
    {
        var rejectedBefore = ServerLog.CountEvents(scratch.Process, TlsHandshakeFailedEvent);
        (await NbdClients.QemuIoAsync(endpoint, ["write -P 0x42 0 4096"], cancellationToken: cancellationToken)).EnsureFailure("qemu-io");
        (await NbdClients.QemuImgInfoAsync(endpoint, cancellationToken)).EnsureFailure("qemu-img info");
        (await NbdClients.NbdInfoAsync(endpoint, ["--size"], cancellationToken)).EnsureFailure("nbdinfo");

        var rejected = await ServerLog.WaitForEventsAsync(scratch.Process, TlsHandshakeFailedEvent, rejectedBefore + 3, TimeSpan.FromSeconds(5)) - rejectedBefore;
        Assert.True(rejected >= 3, $"the server logged {rejected} rejected TLS handshakes for 3 refused clients.\n{scratch.Process.CapturedOutput()}");
    }

    private static async Task AssertServedAfterwardsAsync(IroncladScratch scratch, string dataDirectory, TempDirectory temporary, CancellationToken cancellationToken)
    {
        var legitimate = Scratch.Endpoint(scratch, await TlsCredentials.IssueAsync(dataDirectory, "interop-client", temporary.Combine("client"), cancellationToken));
        (await NbdClients.QemuIoAsync(legitimate, ["read -P 0 0 4096"], readOnly: true, cancellationToken))
            .EnsureSuccess("the issued certificate afterwards, reading the zeros the refused write did not change");
        ServerLog.AssertNoErrors(scratch.Process);
    }
}
