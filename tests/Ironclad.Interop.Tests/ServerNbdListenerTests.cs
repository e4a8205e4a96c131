// `ironclad server` itself: it publishes its NBD listener as `nbd` in endpoints.json and enforces
// the --nbd-tls mode there. The registry is empty at start (exports are added when a VM attaches
// a disk), so listing exports is what a client can do: over TLS, with the endpoints file's CA.
using System.Text.Json;
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Interop.Tests;

public sealed class ServerNbdListenerTests
{
    [Fact]
    public async Task The_published_nbd_listener_lists_exports_over_tls_and_refuses_plain_clients()
    {
        NbdClients.Require(NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), ["--nbd-tls", "required"], cancellationToken: cancellationToken);
        var trusted = ListingEndpoint(server, TlsCredentials.TrustOnly(server.Endpoints.CaCertificate, temporary.Combine("trust")));

        var listing = (await NbdClients.NbdInfoAsync(trusted, ["--list", "--json"], cancellationToken)).EnsureSuccess("listing over TLS");
        using (var document = JsonDocument.Parse(listing.StandardOutput))
        {
            Assert.True(document.RootElement.GetProperty("TLS").GetBoolean(), listing.Describe());
            Assert.Equal(0, document.RootElement.GetProperty("exports").GetArrayLength());
        }

        (await NbdClients.NbdInfoAsync(trusted.WithTls(null), ["--list"], cancellationToken)).EnsureFailure("listing without TLS");
        ServerLog.AssertNoErrors(server.Process);
    }

    [Fact]
    public async Task With_mutual_tls_the_published_listener_serves_only_clients_with_an_issued_certificate()
    {
        NbdClients.Require(NbdClients.NbdInfo);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var server = await IroncladServer.StartAsync(dataDirectory, ["--nbd-tls", "mutual"], cancellationToken: cancellationToken);
        var anonymous = ListingEndpoint(server, TlsCredentials.TrustOnly(server.Endpoints.CaCertificate, temporary.Combine("trust")));
        var issued = ListingEndpoint(server, await TlsCredentials.IssueAsync(dataDirectory, "interop-client", temporary.Combine("client"), cancellationToken));

        (await NbdClients.NbdInfoAsync(anonymous, ["--list"], cancellationToken)).EnsureFailure("listing without a client certificate");
        (await NbdClients.NbdInfoAsync(issued, ["--list"], cancellationToken)).EnsureSuccess("listing with the issued certificate");
        ServerLog.AssertNoErrors(server.Process);
    }

    /// <summary>The endpoints file's `nbd` address, with the default (empty) export name, which `nbdinfo --list` needs no more than.</summary>
    private static NbdEndpoint ListingEndpoint(IroncladServer server, string tlsCredentialsDirectory)
    {
        var address = server.Endpoints.NbdEndPoint;
        Assert.NotEqual(0, address.Port);
        return new NbdEndpoint(address.Address.ToString(), address.Port, string.Empty, tlsCredentialsDirectory);
    }
}
