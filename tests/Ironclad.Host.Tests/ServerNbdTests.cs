// The NBD listener inside the real `ironclad server`: published in endpoints.json, TLS enforced as
// --nbd-tls says with the data directory's certificates, plain NBD refused off loopback, a taken
// NBD port reported like a taken HTTPS port, and an empty export registry at start.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed class ServerNbdTests
{
    [Fact]
    public async Task Server_publishes_its_nbd_address_and_the_port_speaks_nbd_with_tls_required()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);

        var nbd = server.Endpoints.NbdEndPoint;
        Assert.Equal(IPAddress.Loopback, nbd.Address);
        Assert.NotEqual(0, nbd.Port);
        Assert.NotEqual(server.Endpoints.Url.Port, nbd.Port);
        Assert.Equal($"127.0.0.1:{nbd.Port}", server.Endpoints.Nbd);

        await using var probe = await NbdProbe.ConnectAsync(nbd, TestContext.Current.CancellationToken);
        var beforeTls = await probe.OptionAsync(NbdProbe.OptionList, [], TestContext.Current.CancellationToken);
        Assert.Equal(NbdProbe.ReplyErrorTlsRequired, Assert.Single(beforeTls).Type);

        using var presented = await probe.StartTlsAsync(server.Endpoints.CaCertificate, clientCertificate: null, TestContext.Current.CancellationToken);
        using var https = X509CertificateLoader.LoadCertificate(
            CaTrust.LoadCertificate(Path.Combine(server.DataDirectory, "tls", "server.pem")).RawData);
        Assert.Equal(https.Thumbprint, presented.Thumbprint);
        Assert.Empty(await probe.ListAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Wildcard_bind_publishes_nbd_through_loopback()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(
            temporary.Combine("data"), ["--bind", "0.0.0.0"], cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(IPAddress.Loopback, server.Endpoints.NbdEndPoint.Address);
        await using var probe = await NbdProbe.ConnectAsync(server.Endpoints.NbdEndPoint, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Nbd_tls_off_on_loopback_serves_plain_nbd()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(
            temporary.Combine("data"), ["--nbd-tls", "off"], cancellationToken: TestContext.Current.CancellationToken);

        await using var probe = await NbdProbe.ConnectAsync(server.Endpoints.NbdEndPoint, TestContext.Current.CancellationToken);
        Assert.Empty(await probe.ListAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Mutual_tls_accepts_a_client_certificate_of_the_local_ca_and_refuses_a_client_without_one()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");
        await using var server = await IroncladServer.StartAsync(
            dataDirectory, ["--nbd-tls", "mutual"], cancellationToken: TestContext.Current.CancellationToken);
        var clientDirectory = temporary.Combine("client");
        await using (var issue = IroncladProcess.Start(["dev", "issue-client-cert", "--data", dataDirectory, "--name", "test-client", "--out", clientDirectory]))
        {
            var exitCode = await issue.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(exitCode == 0, issue.CapturedOutput());
        }

        using var clientCertificate = X509Certificate2.CreateFromPemFile(
            Path.Combine(clientDirectory, "client-cert.pem"), Path.Combine(clientDirectory, "client-key.pem"));
        await using (var probe = await NbdProbe.ConnectAsync(server.Endpoints.NbdEndPoint, TestContext.Current.CancellationToken))
        {
            using var presented = await probe.StartTlsAsync(server.Endpoints.CaCertificate, clientCertificate, TestContext.Current.CancellationToken);
            Assert.Empty(await probe.ListAsync(TestContext.Current.CancellationToken));
        }

        await using (var anonymous = await NbdProbe.ConnectAsync(server.Endpoints.NbdEndPoint, TestContext.Current.CancellationToken))
        {
            // TLS 1.3 reports a refused client certificate after the handshake, on the first read.
            var refused = await Record.ExceptionAsync(async () =>
            {
                using var presented = await anonymous.StartTlsAsync(server.Endpoints.CaCertificate, clientCertificate: null, TestContext.Current.CancellationToken);
                await anonymous.ListAsync(TestContext.Current.CancellationToken);
            });
            Assert.True(refused is IOException or AuthenticationException, $"expected the connection to be refused, got {refused}");
        }
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("192.0.2.10")]
    public async Task Plain_nbd_on_a_non_loopback_address_is_a_usage_error(string bindAddress)
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");

        await using var process = IroncladProcess.Start(
            ["server", "--data", dataDirectory, "--port", "0", "--nbd-port", "0", "--bind", bindAddress, "--nbd-tls", "off"]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Contains("'--nbd-tls off'", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("loopback", process.StandardError, StringComparison.Ordinal);
        Assert.Contains("ironclad server --help", process.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataDirectory), "a refused command line still created the data directory");
    }

    [Fact]
    public async Task Nbd_port_already_in_use_exits_1_with_a_clear_message()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((IPEndPoint)occupier.LocalEndpoint).Port;
        var dataDirectory = temporary.Combine("data");

        await using var process = IroncladProcess.Start(
            ["server", "--data", dataDirectory, "--port", "0", "--nbd-port", port.ToString(CultureInfo.InvariantCulture)]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{process.CapturedOutput()}");
        Assert.Equal($"ironclad: error: NBD port {port} on 127.0.0.1 is already in use\n", process.StandardError);
        Assert.DoesNotContain("   at ", process.StandardOutput, StringComparison.Ordinal);
        Assert.False(File.Exists(ServerEndpointsFile.PathIn(dataDirectory)));
    }

    [Fact]
    public async Task Stopping_the_server_closes_nbd_connections_and_the_store_cleanly()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(
            temporary.Combine("data"), ["--nbd-tls", "off"], cancellationToken: TestContext.Current.CancellationToken);
        await using var probe = await NbdProbe.ConnectAsync(server.Endpoints.NbdEndPoint, TestContext.Current.CancellationToken);

        var exitCode = await server.StopAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{server.Process.CapturedOutput()}");
        var output = server.Process.StandardOutput;
        var listenerStopped = output.IndexOf("NBD listener on", StringComparison.Ordinal);
        var storeClosed = output.IndexOf("closed cleanly", StringComparison.Ordinal);
        Assert.True(
            listenerStopped >= 0 && storeClosed > listenerStopped,
            $"the NBD listener must stop before the volume store closes\n{output}");
        Assert.Equal(string.Empty, server.Process.StandardError);
    }
}
