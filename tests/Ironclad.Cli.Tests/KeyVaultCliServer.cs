// CliServer for the tests that open vaults: the same real `ironclad server` and logged-in CLI, with a
// vault port range of its own per test class, so classes running in parallel (each with its own
// server) never bind the same vault port — a CLI would then reach the other server's vault.
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Cli.Tests;

public abstract class KeyVaultCliServer(string vaultPorts) : IAsyncLifetime
{
    private readonly TempDirectory _temporary = new("ironclad-cli-kv");
    private IroncladServer? _server;

    internal IroncladServer Server => _server ?? throw new InvalidOperationException("not started");

    internal Cli Cli { get; private set; } = null!;

    internal string DataDirectory => _temporary.Combine("data");

    /// <summary>A scratch directory next to the data directory (backups, PEM and policy files).</summary>
    internal string Scratch => _temporary.Path;

    internal string TenantId => Server.Endpoints.Json.GetProperty("tenantId").GetString()!;

    public async ValueTask InitializeAsync()
    {
        _server = await IroncladServer.StartAsync(DataDirectory, ["--vault-ports", vaultPorts]);
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
        GC.SuppressFinalize(this);
    }

    /// <summary>The object id of the logged-in bootstrap administrator (what access policies name).</summary>
    internal async Task<string> AdminObjectIdAsync()
    {
        var clientId = Server.Endpoints.Json.GetProperty("clientId").GetString()!;
        return (await Cli.RunAsync("ad", "sp", "show", "--id", clientId)).Succeeded().Json()["id"]!.GetValue<string>();
    }
}

public sealed class KeyVaultCliServerA() : KeyVaultCliServer("22400-22419");

public sealed class KeyVaultCliServerB() : KeyVaultCliServer("22420-22439");

public sealed class KeyVaultCliServerC() : KeyVaultCliServer("22440-22459");
