// A KeyVaultService over a real SQLite database and a real file root key in a temporary directory,
// with a fake clock and a recording event hub, plus a builder for the VaultRecords the edge would
// pass in. Restart() opens a new service over the same files, as a server restart does.
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Keys;
using Ironclad.KeyVault.Protection;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Ironclad.KeyVault.Tests;

internal sealed class KeysHarness : IDisposable
{
    public static readonly Guid Tenant = Guid.Parse("00000000-0000-0000-0000-0000000000aa");
    public static readonly DateTimeOffset Start = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new("ironclad-keys");
    private readonly KeyEventHub _hub = new();
    private IKeyProtector? _ownedProtector;

    public KeysHarness(Func<string, IKeyProtector>? protector = null)
    {
        _protectorFactory = protector ?? (dir => new FileKeyProtector(Path.Combine(dir, "root.key")));
        Directory.CreateDirectory(KeyVaultDirectory);
        _hub.Subscribe(Events.Add);
        Open();
    }

    private readonly Func<string, IKeyProtector> _protectorFactory;

    public FakeTimeProvider Time { get; } = new(Start);

    /// <summary>Adds a handler to the service's event hub (after the recording one).</summary>
    public IDisposable Subscribe(Action<KeyEvent> handler) => _hub.Subscribe(handler);

    public KeyVaultService Service { get; private set; } = null!;

    public IKeyProtector Protector { get; private set; } = null!;

    public List<KeyEvent> Events { get; } = [];

    public string DataDirectory => _directory.Path;

    public string KeyVaultDirectory => _directory.Combine("keyvault");

    public string DatabasePath => Path.Combine(KeyVaultDirectory, "keys.db");

    public void Restart()
    {
        Service.Dispose();
        _ownedProtector?.Dispose();
        Open();
    }

    private void Open()
    {
        Protector = _ownedProtector = _protectorFactory(KeyVaultDirectory);
        Service = new KeyVaultService(MetadataDatabase.Open(DatabasePath), Protector, Time, _hub);
    }

    /// <summary>A vault record as the Resource Manager stores it (only the properties the data plane reads matter).</summary>
    public static VaultRecord Vault(
        string name = "v1", string sku = "standard", int retentionDays = 90, bool purgeProtection = false, int port = 20000)
    {
        var properties = new JsonObject
        {
            [VaultRules.TenantId] = Tenant.ToString(),
            [VaultRules.Sku] = new JsonObject { [VaultRules.SkuFamily] = "A", [VaultRules.SkuName] = sku },
            [VaultRules.AccessPolicies] = new JsonArray(),
            [VaultRules.EnabledForDiskEncryption] = true,
            [VaultRules.EnableSoftDelete] = true,
            [VaultRules.SoftDeleteRetentionInDays] = retentionDays,
            [VaultRules.EnablePurgeProtection] = purgeProtection,
            [VaultRules.EnableRbacAuthorization] = false,
        };
        return new VaultRecord(
            name, Guid.Parse("00000000-0000-0000-0000-000000000001"), "rg1", "eastus", [], properties, port,
            Start, "admin", Start, "admin", null, null, 1);
    }

    public static CreateKeyRequest Rsa(int? sizeBits = null, IReadOnlyList<string>? keyOps = null, NewKeyAttributes? attributes = null, IReadOnlyDictionary<string, string>? tags = null, string kty = KeyTypes.Rsa) =>
        new(kty, sizeBits, null, keyOps, attributes, tags);

    /// <summary>
    /// A key version made by importing one of a few RSA-2048 keys generated once per test run: for
    /// tests about operations rather than generation (generation costs ~0.1–1 s per key on CI).
    /// </summary>
    public KeyVersion ImportPooled(
        VaultRecord vault, string name, int poolIndex = 0, IReadOnlyList<string>? keyOps = null, NewKeyAttributes? attributes = null) =>
        Service.Import(vault, name, new ImportKeyRequest(ImportTests.Jwk(Pool.Value[poolIndex], keyOps: keyOps), false, attributes, null));

    private static readonly Lazy<RSAParameters[]> Pool = new(() => [.. Enumerable.Range(0, 3).Select(_ =>
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportParameters(true);
    })]);

    /// <summary>Every row of the keys tables, as text: to prove a refused request changed nothing.</summary>
    public string Snapshot()
    {
        using var connection = MetadataDatabase.Open(DatabasePath).OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT group_concat(line, char(10)) FROM (
              SELECT 'k|' || vault_key || '|' || name_key || '|' || name || '|' || ifnull(deleted_at_ms, '') || '|' || ifnull(rotation_policy, '') AS line FROM kv_keys
              UNION ALL
              SELECT 'v|' || vault_key || '|' || name_key || '|' || version || '|' || seq || '|' || key_ops || '|' || enabled || '|' || ifnull(nbf_ms, '') || '|' || ifnull(exp_ms, '') || '|' || updated_ms || '|' || tags || '|' || hex(ifnull(sealed_private, '')) FROM kv_key_versions
              ORDER BY 1)
            """;
        return command.ExecuteScalar() as string ?? string.Empty;
    }

    public void Dispose()
    {
        Service.Dispose();
        _ownedProtector?.Dispose();
        _directory.Dispose();
    }
}
