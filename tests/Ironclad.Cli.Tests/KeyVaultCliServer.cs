// CliServer for the tests that open vaults: the same real `ironclad server` and logged-in CLI, with a
// vault port range of its own per test class, so classes running in parallel (each with its own
// server) never bind the same vault port — a CLI would then reach the other server's vault.
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Cli.Tests;

public abstract class KeyVaultCliServer(string vaultPorts) : IAsyncLifetime
{
    private readonly TempDirectory _temporary = new("ironclad-cli-kv");
    private readonly SemaphoreSlim _vaultLock = new(1, 1);
    private IroncladServer? _server;
    private string? _vault;

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
        _vaultLock.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// One vault per server (created on first use; no purge protection, 7-day retention) whose access
    /// policy gives the CLI's principal every key permission. Tests use their own key names in it.
    /// </summary>
    internal async Task<string> VaultAsync()
    {
        await _vaultLock.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_vault is null)
            {
                var group = $"rg-{Guid.NewGuid():N}"[..20];
                var vault = $"kv{Guid.NewGuid():N}"[..20];
                (await Cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
                (await Cli.RunAsync("keyvault", "create", "-n", vault, "-g", group, "-l", "eastus", "--retention-days", "7")).Succeeded();
                (await Cli.RunAsync(["keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", await AdminObjectIdAsync(), "--key-permissions",
                    .. AllKeyPermissions])).Succeeded();
                _vault = vault;
            }

            return _vault;
        }
        finally
        {
            _vaultLock.Release();
        }
    }

    internal static readonly string[] AllKeyPermissions =
    [
        "get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "encrypt", "decrypt", "wrapKey", "unwrapKey",
        "sign", "verify", "purge", "rotate", "getrotationpolicy", "setrotationpolicy",
    ];

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
