// The vault listeners of a real server (vault ports 21530-21534): only ports of existing vaults are
// held (the range is shared with parallel servers), a port that cannot be bound is logged while the
// other vaults keep working, and purging a vault gives its port back to the machine.
using System.Net;
using System.Net.Sockets;

namespace Ironclad.Sdk.Tests;

public sealed class KeysListenerTests : IAsyncLifetime
{
    private const int FirstPort = 21530;
    private const int LastPort = 21534;
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", $"{FirstPort}-{LastPort}"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Only_existing_vaults_hold_ports_a_busy_port_is_logged_and_purge_frees_the_port()
    {
        var cancellationToken = TestContext.Current.CancellationToken;

        // No vault yet: the server holds none of the range.
        for (var port = FirstPort; port <= LastPort; port++)
        {
            Assert.True(CanBind(port), $"port {port} is held although no vault exists");
        }

        // The first vault's port is taken by someone else: logged, and the next vault still works.
        var blocker = new TcpListener(IPAddress.Loopback, FirstPort);
        blocker.Start();
        try
        {
            var blocked = await KeysTestSupport.CreateVaultAsync(_server, "lst-blocked", cancellationToken: cancellationToken);
            Assert.Equal(FirstPort, blocked.Port);
            await WaitForLogAsync($"cannot listen on 127.0.0.1 port {FirstPort}", cancellationToken);

            var working = await KeysTestSupport.CreateVaultAsync(_server, "lst-working", cancellationToken: cancellationToken);
            Assert.Equal(FirstPort + 1, working.Port);
            Assert.False(CanBind(working.Port));
            var token = await KeysTestSupport.VaultTokenAsync(_server, cancellationToken);
            using (var vault = KeysTestSupport.VaultClient(_server, working))
            {
                var (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", token, null, cancellationToken);
                using (response)
                {
                    Assert.True(status == 200, $"{status} {body}");
                }
            }

            // Soft delete keeps the port (the vault can come back); purge gives it back.
            await KeysTestSupport.DeleteVaultAsync(_server, "lst-working", cancellationToken);
            Assert.False(CanBind(working.Port));
            await KeysTestSupport.PurgeVaultAsync(_server, "lst-working", cancellationToken);
            Assert.True(CanBind(working.Port), "a purged vault's port is still held");
            Assert.True(CanBind(LastPort));
        }
        finally
        {
            blocker.Stop();
        }
    }

    /// <summary>The server's output is read asynchronously: give the line a moment to arrive.</summary>
    private async Task WaitForLogAsync(string text, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var process = _server.Server.Process;
            if ((process.StandardOutput + process.StandardError).Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }

        Assert.Fail($"the server never logged '{text}':\n{_server.Server.Process.StandardOutput}");
    }

    private static bool CanBind(int port)
    {
        try
        {
            var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
