// NBD over TLS against the real `ironclad dev serve-scratch --tls required` process: qemu
// (tls-creds-x509 + --image-opts) and libnbd (nbds://...?tls-certificates=) clients that trust the
// local CA read and write as over plain NBD; a plain client, and a client that trusts another CA,
// get nowhere.
using System.Text.Json;
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class TlsTests
{
    private const int ImageBytes = 16 << 20;

    [Fact]
    public async Task Qemu_and_libnbd_clients_trusting_the_local_ca_read_and_write_over_tls()
    {
        NbdClients.Require(NbdClients.QemuImg, NbdClients.QemuIo, NbdClients.NbdInfo, NbdClients.NbdCopy);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, tls: "required", cancellationToken: cancellationToken);
        Assert.Equal("nbds", scratch.Uri.Scheme);
        var endpoint = Scratch.Endpoint(scratch, TlsCredentials.TrustOnly(Scratch.CaCertificate(dataDirectory), temporary.Combine("trust")));

        var listing = (await NbdClients.NbdInfoAsync(endpoint, ["--json"], cancellationToken)).EnsureSuccess("nbdinfo over TLS");
        using (var document = JsonDocument.Parse(listing.StandardOutput))
        {
            Assert.True(document.RootElement.GetProperty("TLS").GetBoolean(), listing.Describe());
            Assert.Equal(Scratch.SizeBytes, document.RootElement.GetProperty("exports")[0].GetProperty("export-size").GetInt64());
        }

        var info = (await NbdClients.QemuImgInfoAsync(endpoint, cancellationToken)).EnsureSuccess("qemu-img info over TLS");
        using (var document = JsonDocument.Parse(info.StandardOutput))
        {
            Assert.Equal(Scratch.SizeBytes, document.RootElement.GetProperty("virtual-size").GetInt64());
        }

        var patterns = PatternWrites.Create(Scratch.SizeBytes, seed);
        (await NbdClients.QemuIoAsync(endpoint, patterns.WriteCommands, cancellationToken: cancellationToken)).EnsureSuccess("qemu-io writing over TLS");
        (await NbdClients.QemuIoAsync(endpoint, patterns.VerifyCommands, readOnly: true, cancellationToken)).EnsureSuccess("qemu-io reading over TLS");

        // Written by qemu, read back by libnbd: both speak the same TLS to the same server.
        var image = RandomImage.Create(temporary.Combine("source.raw"), ImageBytes, seed);
        (await NbdClients.QemuImgConvertToExportAsync(image.Path, endpoint, cancellationToken)).EnsureSuccess("qemu-img convert into the export over TLS");
        var copy = temporary.Combine("copy.raw");
        (await NbdClients.NbdCopyAsync(endpoint.LibnbdUri, copy, cancellationToken: cancellationToken)).EnsureSuccess("nbdcopy out of the export over TLS");
        await image.AssertIsPrefixOfAsync(copy, cancellationToken);

        await AtRest.AssertNoPlaintextAsync(
            Scratch.VolumesDirectory(dataDirectory), [.. patterns.ScanPatterns, .. image.Samples(16, 32, seed)], ImageBytes);
        ServerLog.AssertNoErrors(scratch.Process);
    }

    [Fact]
    public async Task A_plain_client_is_refused_by_a_tls_server()
    {
        NbdClients.Require(NbdClients.QemuImg, NbdClients.QemuIo, NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, tls: "required", cancellationToken: cancellationToken);
        var trusted = Scratch.Endpoint(scratch, TlsCredentials.TrustOnly(Scratch.CaCertificate(dataDirectory), temporary.Combine("trust")));
        var plain = trusted.WithTls(null);

        var qemuIo = (await NbdClients.QemuIoAsync(plain, ["write -P 0x42 0 4096"], cancellationToken: cancellationToken)).EnsureFailure("plain qemu-io");
        Assert.Contains("TLS negotiation required", qemuIo.CombinedOutput, StringComparison.Ordinal);
        (await NbdClients.QemuImgInfoAsync(plain, cancellationToken)).EnsureFailure("plain qemu-img info");
        var nbdInfo = (await NbdClients.NbdInfoAsync(plain, ["--size"], cancellationToken)).EnsureFailure("plain nbdinfo");
        Assert.Contains("server requires TLS", nbdInfo.CombinedOutput, StringComparison.Ordinal);

        // Nothing was written, and the server still serves a client that does TLS.
        (await NbdClients.QemuIoAsync(trusted, ["read -P 0 0 4096"], readOnly: true, cancellationToken)).EnsureSuccess("a TLS client afterwards");
        ServerLog.AssertNoErrors(scratch.Process);
    }

    [Fact]
    public async Task A_client_that_trusts_another_ca_refuses_the_server_certificate()
    {
        NbdClients.Require(NbdClients.QemuIo, NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, tls: "required", cancellationToken: cancellationToken);
        var untrusting = Scratch.Endpoint(scratch, TlsCredentials.TrustingAnotherAuthority(temporary.Combine("other-ca")));

        (await NbdClients.QemuIoAsync(untrusting, ["read 0 4096"], readOnly: true, cancellationToken)).EnsureFailure("qemu-io trusting another CA");
        (await NbdClients.NbdInfoAsync(untrusting, ["--size"], cancellationToken)).EnsureFailure("nbdinfo trusting another CA");
    }
}
