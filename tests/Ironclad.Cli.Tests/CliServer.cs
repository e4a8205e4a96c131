// One real `ironclad server` per test class, and a CLI logged in to it as the bootstrap
// administrator (`ironclad login --data DIR`). Stopped and deleted with the class.
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Cli.Tests;

public sealed class CliServer : IAsyncLifetime
{
    private readonly TempDirectory _temporary = new("ironclad-cli");
    private IroncladServer? _server;

    internal IroncladServer Server => _server ?? throw new InvalidOperationException("not started");

    internal Cli Cli { get; private set; } = null!;

    internal string DataDirectory => _temporary.Combine("data");

    internal string SubscriptionId => Server.Endpoints.Json.GetProperty("subscriptionId").GetString()!;

    internal string TenantId => Server.Endpoints.Json.GetProperty("tenantId").GetString()!;

    public async ValueTask InitializeAsync()
    {
        _server = await IroncladServer.StartAsync(DataDirectory);
        Cli = new Cli(_temporary.Combine("profile", "profile.json"));
        (await Cli.RunAsync(["login", "--data", DataDirectory])).Succeeded();
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is { } server)
        {
            await server.DisposeAsync();
        }

        _temporary.Dispose();
    }
}
