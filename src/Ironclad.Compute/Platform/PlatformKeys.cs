// IPlatformKeys: per region, a vault in the platform's own tenant and subscription (created on first
// use, through the Key Vault resource provider in-process, as the platform's own service principal),
// whose only access policy entry is the region's platform managed identity (get, wrapKey, unwrapKey,
// create, rotate), with soft delete and purge protection, holding one versioned RSA-3072 key created
// and rotated over the vault's HTTPS API as that identity. Invariants: customers never see the
// platform tenant, subscription or vaults (they are in another tenant, where no customer has a role);
// everything is recorded in component "compute-platform", so a restart reuses the same vault, key and
// identity; a rotation re-wraps every platform layer of the region in the background.
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.KeyAccess;
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.Platform;

public sealed class PlatformKeys : IPlatformKeys, IDisposable
{
    public const string Component = "compute-platform";

    /// <summary>The platform key's name in every platform vault.</summary>
    public const string KeyName = "platform-disk-key";

    public const int KeySizeBits = 3072;

    /// <summary>The platform vaults' soft-delete retention (the longest the cloud allows).</summary>
    public const int SoftDeleteRetentionDays = 90;

    /// <summary>The vault's access-policy key permissions of the platform identity, and nothing else.</summary>
    public static readonly IReadOnlyList<string> IdentityPermissions = ["get", "wrapKey", "unwrapKey", "create", "rotate"];

    private const string VaultApiVersion = "2024-11-01";
    private const int NameAttemptsMax = 8;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_platform_account (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tenant_id TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            owner_object_id TEXT NOT NULL,
            owner_app_id TEXT NOT NULL
        );
        CREATE TABLE compute_platform_regions (
            region TEXT PRIMARY KEY,
            resource_group TEXT NOT NULL,
            vault_name TEXT NOT NULL,
            vault_uri TEXT NULL,
            principal_id TEXT NOT NULL,
            identity_resource_id TEXT NOT NULL,
            current_kid TEXT NULL,
            created_at_ms INTEGER NOT NULL,
            rotated_at_ms INTEGER NULL
        );
        """,
    ];

    private readonly MetadataDatabase _database;
    private readonly IdentityProvider _identity;
    private readonly IResourceManagerBootstrap _bootstrap;
    private readonly Func<ResourceGroupService> _groups;
    private readonly VaultsProvider _vaults;
    private readonly VaultKeyClient _client;
    private readonly IDataKeyStore _store;
    private readonly Func<IDataKeyService> _dataKeys;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _ensure = new(1, 1);
    private readonly ConcurrentDictionary<string, RegionRecord> _regions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _rewraps = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private int _disposed;

    /// <param name="groups">Resolved late: resource groups know every provider, Compute (and so this class) included.</param>
    public PlatformKeys(
        MetadataDatabase database, IdentityProvider identity, IResourceManagerBootstrap bootstrap, Func<ResourceGroupService> groups,
        VaultsProvider vaults, VaultKeyClient client, IDataKeyStore store, Func<IDataKeyService> dataKeys, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(bootstrap);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(vaults);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(dataKeys);
        ArgumentNullException.ThrowIfNull(time);
        _database = database;
        _identity = identity;
        _bootstrap = bootstrap;
        _groups = groups;
        _vaults = vaults;
        _client = client;
        _store = store;
        _dataKeys = dataKeys;
        _time = time;
        _database.Migrate(Component, Migrations);
        foreach (var region in LoadRegions())
        {
            _regions[region.Region] = region;
        }
    }

    /// <summary>A background re-wrap of a platform layer failed (the host logs it; the layer keeps its old, still valid, version).</summary>
    public event Action<string, Exception>? BackgroundFailed;

    /// <summary>The platform's tenant, or null before the first platform vault exists.</summary>
    public Guid? PlatformTenantId => LoadAccount()?.TenantId;

    /// <summary>The regions that have a platform vault and key, with their vault and current key version.</summary>
    public IReadOnlyList<PlatformRegionInfo> Regions() =>
        [.. _regions.Values.Where(r => r.CurrentKid is not null).OrderBy(r => r.Region, StringComparer.Ordinal)
            .Select(r => new PlatformRegionInfo(r.Region, r.VaultName, r.CurrentKid!, r.PrincipalId, r.RotatedAt ?? r.CreatedAt))];

    public async Task<KeyEncryptionTarget> CurrentAsync(string region, CancellationToken cancellationToken)
    {
        var record = await EnsureRegionAsync(NormalizeRegion(region), cancellationToken);
        return Target(record);
    }

    public Guid PrincipalFor(string region)
    {
        var key = NormalizeRegion(region);
        return _regions.TryGetValue(key, out var record)
            ? record.PrincipalId
            : throw new InvalidOperationException($"Region '{key}' has no platform key.");
    }

    public async Task RotateAsync(string region, CancellationToken cancellationToken)
    {
        var record = await EnsureRegionAsync(NormalizeRegion(region), cancellationToken);
        await _ensure.WaitAsync(cancellationToken);
        try
        {
            var kid = await _client.RotateKeyAsync(record.PrincipalId, record.CurrentKid!, cancellationToken);
            record = record with { CurrentKid = kid, RotatedAt = _time.GetUtcNow() };
            SaveRegion(record);
            _regions[record.Region] = record;
        }
        finally
        {
            _ensure.Release();
        }

        StartRewrap(record);
    }

    /// <summary>Rotates every region whose key version is older than <paramref name="maxAge"/> (the periodic rotation); returns how many.</summary>
    public async Task<int> RotateDueAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var rotated = 0;
        foreach (var region in Regions().Where(r => r.KeyVersionSince + maxAge <= now))
        {
            await RotateAsync(region.Region, cancellationToken);
            rotated++;
        }

        return rotated;
    }

    /// <summary>Completes when the latest background re-wrap of <paramref name="region"/> has finished.</summary>
    public Task WaitForRewrapAsync(string region) =>
        _rewraps.TryGetValue(NormalizeRegion(region), out var task) ? task : Task.CompletedTask;

    /// <summary>Stops background re-wraps; idempotent (the container may dispose it under each of its registrations).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        _stopping.Dispose();
        _ensure.Dispose();
    }

    // ── Re-wrap after rotation ─────────────────────────────────────────────────────────────────

    private void StartRewrap(RegionRecord record)
    {
        var stopping = _stopping.Token;
        _ = _rewraps.AddOrUpdate(
            record.Region,
            _ => Task.Run(() => RewrapRegionAsync(record, Task.CompletedTask, stopping), stopping),
            (_, previous) => Task.Run(() => RewrapRegionAsync(record, previous, stopping), stopping));
    }

    private async Task RewrapRegionAsync(RegionRecord record, Task previous, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var current = _regions[record.Region];
        var target = Target(current);
        foreach (var layer in _store.ForPlatformRegion(record.Region))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (string.Equals(layer.Wrapped.Kid.Version, current.CurrentKid!.Version, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            try
            {
                await _dataKeys().RewrapAsync(layer.VolumeId, layer.Layer, target, cancellationToken);
            }
            catch (Exception e) when (e is KeyAccessException or InvalidOperationException)
            {
                // The volume was deleted meanwhile, or the vault refused: the old version still unwraps it.
                if (_store.ForVolume(layer.VolumeId).Count > 0)
                {
                    BackgroundFailed?.Invoke(record.Region, e);
                }
            }
        }
    }

    // ── The region's vault, identity and key ──────────────────────────────────────────────────

    private static KeyEncryptionTarget Target(RegionRecord record) =>
        new(KeyEncryptionKind.Platform, record.PrincipalId, record.CurrentKid!.Versionless(), EncryptionSetId: null, record.Region);

    private async Task<RegionRecord> EnsureRegionAsync(string region, CancellationToken cancellationToken)
    {
        if (_regions.TryGetValue(region, out var ready) && ready.CurrentKid is not null)
        {
            return ready;
        }

        await _ensure.WaitAsync(cancellationToken);
        try
        {
            if (_regions.TryGetValue(region, out ready) && ready.CurrentKid is not null)
            {
                return ready;
            }

            var account = EnsureAccount();
            var record = _regions.TryGetValue(region, out var pending) ? pending : NewRegion(account, region);
            record = EnsureVault(account, record);
            if (record.CurrentKid is null)
            {
                var kid = await _client.CreateRsaKeyAsync(record.PrincipalId, record.VaultUri!, KeyName, KeySizeBits, cancellationToken);
                record = record with { CurrentKid = kid };
                SaveRegion(record);
            }

            _regions[region] = record;
            return record;
        }
        finally
        {
            _ensure.Release();
        }
    }

    /// <summary>The platform tenant, its subscription and the service principal that owns it (no secret: it never signs in).</summary>
    private PlatformAccount EnsureAccount()
    {
        var account = LoadAccount();
        if (account is null)
        {
            var tenant = _identity.CreateTenant("Ironclad platform");
            var owner = _identity.CreateServicePrincipal(tenant.TenantId, "ironclad-platform-keys");
            account = new PlatformAccount(tenant.TenantId, Guid.NewGuid(), owner.ObjectId, owner.AppId);
            using var connection = _database.OpenConnection();
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO compute_platform_account (id, tenant_id, subscription_id, owner_object_id, owner_app_id)
                VALUES (1, $tenant, $subscription, $owner, $app)
                """;
            command.Parameters.AddWithValue("$tenant", Text(account.TenantId));
            command.Parameters.AddWithValue("$subscription", Text(account.SubscriptionId));
            command.Parameters.AddWithValue("$owner", Text(account.OwnerObjectId));
            command.Parameters.AddWithValue("$app", Text(account.OwnerAppId));
            command.ExecuteNonQuery();
        }

        _bootstrap.EnsureSubscription(account.TenantId, account.SubscriptionId, "Ironclad platform keys", account.OwnerObjectId);
        return account;
    }

    private RegionRecord NewRegion(PlatformAccount account, string region)
    {
        var group = $"ironclad-platform-keys-{region}";
        var identityId = $"/subscriptions/{Text(account.SubscriptionId)}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/platform-keys-{region}";
        var principal = _identity.EnsureUserAssignedIdentity(account.TenantId, identityId);
        var record = new RegionRecord(region, group, UnusedVaultName(), VaultUri: null, principal.ObjectId, identityId, CurrentKid: null, _time.GetUtcNow(), RotatedAt: null);
        SaveRegion(record);
        return record;
    }

    /// <summary>Creates (or, after a crash mid-way, re-applies) the region's vault; a name a customer took meanwhile is replaced by a fresh one.</summary>
    private RegionRecord EnsureVault(PlatformAccount account, RegionRecord record)
    {
        _groups().CreateOrUpdate(account.SubscriptionId, record.ResourceGroup, record.Region,
            new Dictionary<string, string> { ["ironclad-platform"] = "keys" }, managedBy: null);
        var caller = new CallerIdentity(account.TenantId, account.OwnerObjectId, account.OwnerAppId, "https://management.azure.com/", PrincipalType.ServicePrincipal);
        for (var attempt = 0; ; attempt++)
        {
            var existing = _vaults.FindByName(record.VaultName);
            if (existing is not null && (existing.SubscriptionId != account.SubscriptionId || existing.IsDeleted))
            {
                record = RenameVault(record, attempt);
                continue;
            }

            try
            {
                var result = _vaults.Handle(VaultPut(account, record, caller));
                var uri = result.Body?["properties"]?["vaultUri"]?.GetValue<string>()
                    ?? throw new InvalidOperationException($"The platform vault '{record.VaultName}' was created without a vaultUri.");
                record = record with { VaultUri = new Uri(uri) };
                SaveRegion(record);
                return record;
            }
            catch (ArmException e) when (e.StatusCode == 409 && e.Code is "VaultAlreadyExists" or "ConflictError")
            {
                record = RenameVault(record, attempt);
            }
        }
    }

    private RegionRecord RenameVault(RegionRecord record, int attempt)
    {
        if (attempt + 1 >= NameAttemptsMax)
        {
            throw new InvalidOperationException($"No free name for the platform vault of region '{record.Region}' after {NameAttemptsMax} attempts.");
        }

        var renamed = record with { VaultName = UnusedVaultName(), VaultUri = null };
        SaveRegion(renamed);
        return renamed;
    }

    private static ProviderRequest VaultPut(PlatformAccount account, RegionRecord record, CallerIdentity caller)
    {
        var permissions = new JsonArray([.. IdentityPermissions.Select(p => (JsonNode)p)]);
        var body = new JsonObject
        {
            ["location"] = record.Region,
            ["tags"] = new JsonObject { ["ironclad-platform"] = "keys" },
            ["properties"] = new JsonObject
            {
                ["tenantId"] = Text(account.TenantId),
                ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
                ["enableSoftDelete"] = true,
                ["softDeleteRetentionInDays"] = SoftDeleteRetentionDays,
                ["enablePurgeProtection"] = true,
                ["enableRbacAuthorization"] = false,
                ["accessPolicies"] = new JsonArray(new JsonObject
                {
                    ["tenantId"] = Text(account.TenantId),
                    ["objectId"] = Text(record.PrincipalId),
                    ["permissions"] = new JsonObject { ["keys"] = permissions },
                }),
            },
        };
        var id = $"/subscriptions/{Text(account.SubscriptionId)}/resourceGroups/{record.ResourceGroup}/providers/Microsoft.KeyVault/vaults/{record.VaultName}";
        return new ProviderRequest("PUT", account.SubscriptionId, record.ResourceGroup, ["vaults", record.VaultName], id,
            new Dictionary<string, string> { ["api-version"] = VaultApiVersion }, JsonSerializer.SerializeToElement(body),
            caller, VaultApiVersion, new Uri("https://127.0.0.1/"));
    }

    /// <summary>"icpk-" + 16 random hex digits: vault names are global, and customers are unlikely to pick this one.</summary>
    private static string UnusedVaultName() => "icpk-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static string NormalizeRegion(string region)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(region);
        var normalized = region.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        if (normalized.Length > 40 || !normalized.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException($"'{region}' is not a region name.", nameof(region));
        }

        return normalized;
    }

    // ── Persistence ────────────────────────────────────────────────────────────────────────────

    private PlatformAccount? LoadAccount()
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT tenant_id, subscription_id, owner_object_id, owner_app_id FROM compute_platform_account WHERE id = 1";
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new PlatformAccount(Guid.Parse(reader.GetString(0)), Guid.Parse(reader.GetString(1)), Guid.Parse(reader.GetString(2)), Guid.Parse(reader.GetString(3)))
            : null;
    }

    private List<RegionRecord> LoadRegions()
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT region, resource_group, vault_name, vault_uri, principal_id, identity_resource_id, current_kid, created_at_ms, rotated_at_ms
            FROM compute_platform_regions
            """;
        using var reader = command.ExecuteReader();
        var regions = new List<RegionRecord>();
        while (reader.Read())
        {
            regions.Add(new RegionRecord(
                reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : new Uri(reader.GetString(3)),
                Guid.Parse(reader.GetString(4)), reader.GetString(5),
                reader.IsDBNull(6) ? null : KeyReference.Parse(reader.GetString(6)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
                reader.IsDBNull(8) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8))));
        }

        return regions;
    }

    private void SaveRegion(RegionRecord record)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO compute_platform_regions (region, resource_group, vault_name, vault_uri, principal_id, identity_resource_id, current_kid, created_at_ms, rotated_at_ms)
            VALUES ($region, $group, $vault, $uri, $principal, $identity, $kid, $created, $rotated)
            ON CONFLICT (region) DO UPDATE SET vault_name = excluded.vault_name, vault_uri = excluded.vault_uri,
                current_kid = excluded.current_kid, rotated_at_ms = excluded.rotated_at_ms
            """;
        command.Parameters.AddWithValue("$region", record.Region);
        command.Parameters.AddWithValue("$group", record.ResourceGroup);
        command.Parameters.AddWithValue("$vault", record.VaultName);
        command.Parameters.AddWithValue("$uri", (object?)record.VaultUri?.ToString() ?? DBNull.Value);
        command.Parameters.AddWithValue("$principal", Text(record.PrincipalId));
        command.Parameters.AddWithValue("$identity", record.IdentityResourceId);
        command.Parameters.AddWithValue("$kid", (object?)record.CurrentKid?.ToString() ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", record.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$rotated", (object?)record.RotatedAt?.ToUnixTimeMilliseconds() ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    private static string Text(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private sealed record PlatformAccount(Guid TenantId, Guid SubscriptionId, Guid OwnerObjectId, Guid OwnerAppId);

    private sealed record RegionRecord(
        string Region, string ResourceGroup, string VaultName, Uri? VaultUri, Guid PrincipalId, string IdentityResourceId,
        KeyReference? CurrentKid, DateTimeOffset CreatedAt, DateTimeOffset? RotatedAt);
}

/// <summary>A region's platform key, for diagnostics and tests: its vault, current version and identity.</summary>
/// <param name="KeyVersionSince">When the current version was created (the first key, or the last rotation).</param>
public sealed record PlatformRegionInfo(string Region, string VaultName, KeyReference CurrentKey, Guid PrincipalId, DateTimeOffset KeyVersionSince);
