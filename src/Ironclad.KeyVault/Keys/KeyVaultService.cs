// The keys data plane of every vault on this server: versions and their lifecycle (create, import,
// update, rotate, rotation policy, backup/restore, soft delete, recover, purge) and the key
// operations, over a SQLite store of sealed key material. Authorization and auditing happen at the
// edge before a call reaches here. Invariants: private key material exists in plaintext only inside
// one call (then zeroed) and is stored only sealed (AAD = vault/name/version); every committed
// change is published to IKeyEventSink after the commit; failures are KeyVaultException.
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Protection;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Keys;

public sealed partial class KeyVaultService : IDisposable
{
    public const int MaxResultsLimit = 25;

    private const int ResolvedEntriesMax = 10_000;

    private readonly SqliteKeyStore _store;
    private readonly IKeyProtector _protector;
    private readonly TimeProvider _time;
    private readonly IKeyEventSink _events;
    private readonly KeyMaterialCache _cache = new();

    // Key operations re-read the version's state on every call; this cache makes that a dictionary
    // lookup while nothing has been written (entries carry the store generation they were read at).
    private readonly ConcurrentDictionary<string, ResolvedEntry> _resolved = new(StringComparer.Ordinal);

    /// <param name="database">The vault's own database (DIR/keyvault/keys.db); migrated by the constructor.</param>
    public KeyVaultService(MetadataDatabase database, IKeyProtector protector, TimeProvider time, IKeyEventSink events)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(events);
        _store = new SqliteKeyStore(database);
        _protector = protector;
        _time = time;
        _events = events;
    }

    /// <summary>How many unsealed versions are held in memory (diagnostics and tests).</summary>
    internal int CachedVersionCount => _cache.Count;

    // ── Keys ───────────────────────────────────────────────────────────────────────────────────
    // `vault` is the active vault the request reached (the edge refuses soft-deleted ones); its
    // retention and purge protection decide recoveryLevel, recoverableDays and scheduledPurgeDate.

    /// <summary>A new key, or a new version of an existing one. 409 Conflict if the name is soft-deleted.</summary>
    public KeyVersion Create(VaultRecord vault, string name, CreateKeyRequest request)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(request);
        var nameKey = KeyRules.NameKey(name);
        var keyType = KeyRules.KeyType(request.KeyType);
        var sizeBits = KeyRules.KeySize(request.KeySize);
        var exponent = KeyRules.PublicExponent(request.PublicExponent);
        var keyOps = KeyRules.KeyOpsOrDefault(request.KeyOps);
        var tags = KeyRules.Tags(request.Tags);
        KeyRules.Window(request.Attributes?.NotBefore, request.Attributes?.Expires);
        KeyRules.Exportable(request.Attributes?.Exportable);
        var hsm = keyType == KeyTypes.RsaHsm ? RequireHsm(vault) : null;
        RefuseDeletedName(vault, name, nameKey);

        var draft = new VersionDraft(keyType, keyOps, request.Attributes, tags);
        if (hsm is not null)
        {
            var reference = hsm.Generate(sizeBits, exponent);
            return AddVersion(vault, name, nameKey, draft, NewMaterial.Hsm(hsm, reference), AddMode.CreateOrAdd);
        }

        var rsa = RSA.Create(sizeBits);
        return AddVersion(vault, name, nameKey, draft, NewMaterial.Software(rsa), AddMode.CreateOrAdd);
    }

    /// <summary>The version, or the latest one when <paramref name="version"/> is null or empty. 404 KeyNotFound.</summary>
    public KeyVersion Get(VaultRecord vault, string name, string? version)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var (key, stored) = Resolve(vault, name, version);
        return ToKeyVersion(vault, key, stored);
    }

    /// <summary>Latest version of each active key, ordered by name.</summary>
    public KeyPage<KeyVersion> List(VaultRecord vault, int maxResults, string? skipToken)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var limit = CheckMaxResults(maxResults);
        var after = SkipTokens.ReadName(skipToken);
        using var connection = _store.OpenRead();
        var keys = SqliteKeyStore.ListKeys(connection, KeyRules.VaultKey(vault.Name), deleted: false, after, limit + 1);
        var page = keys.Take(limit)
            .Select(k => ToKeyVersion(vault, k, SqliteKeyStore.FindVersion(connection, null, k.VaultKey, k.NameKey, null)!))
            .ToList();
        return new KeyPage<KeyVersion>(page, keys.Count > limit ? SkipTokens.Name(keys[limit - 1].NameKey) : null);
    }

    /// <summary>Every version of one key, oldest first.</summary>
    public KeyPage<KeyVersion> ListVersions(VaultRecord vault, string name, int maxResults, string? skipToken)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        var limit = CheckMaxResults(maxResults);
        var after = SkipTokens.ReadSequence(skipToken);
        using var connection = _store.OpenRead();
        var key = SqliteKeyStore.FindKey(connection, null, KeyRules.VaultKey(vault.Name), nameKey);
        if (key is null || key.DeletedAt is not null)
        {
            throw KeyVaultException.KeyNotFound(name);
        }

        var versions = SqliteKeyStore.ListVersions(connection, null, key.VaultKey, key.NameKey, after, limit + 1);
        var page = versions.Take(limit).Select(v => ToKeyVersion(vault, key, v)).ToList();
        return new KeyPage<KeyVersion>(page, versions.Count > limit ? SkipTokens.Sequence(versions[limit - 1].Sequence) : null);
    }

    /// <summary>Updates one version (the latest when <paramref name="version"/> is null or empty).</summary>
    public KeyVersion Update(VaultRecord vault, string name, string? version, UpdateKeyRequest request)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(request);
        var nameKey = KeyRules.NameKey(name);
        var keyOps = request.KeyOps is null ? null : KeyRules.KeyOpsOrDefault(request.KeyOps);
        var tags = request.Tags is null ? null : KeyRules.Tags(request.Tags);
        var now = _time.GetUtcNow();

        KeyVersion result;
        var published = new List<KeyEvent>();
        using (var unit = _store.BeginWrite())
        {
            var (key, stored) = ResolveIn(unit, vault, name, nameKey, version);
            var attributes = stored.Attributes;
            var notBefore = request.NotBefore ?? attributes.NotBefore;
            var expires = request.Expires ?? attributes.Expires;
            KeyRules.Window(notBefore, expires);
            var updated = stored with
            {
                KeyOps = keyOps ?? stored.KeyOps,
                Tags = tags ?? stored.Tags,
                Attributes = attributes with
                {
                    Enabled = request.Enabled ?? attributes.Enabled,
                    NotBefore = notBefore,
                    Expires = expires,
                    Updated = now,
                },

                // A new exp is a new expiry to report (once) when it passes.
                ExpiredNotified = request.Expires is null ? stored.ExpiredNotified : false,
            };
            SqliteKeyStore.UpdateVersion(unit, key.VaultKey, key.NameKey, updated);
            unit.Commit();
            result = ToKeyVersion(vault, key, updated);

            if (request.Enabled is { } enabled && enabled != attributes.Enabled)
            {
                published.Add(Event(enabled ? KeyEventKind.Enabled : KeyEventKind.Disabled, vault, key.Name, stored.Version, now));
            }

            if (request.NotBefore is not null || request.Expires is not null || keyOps is not null || tags is not null)
            {
                published.Add(Event(KeyEventKind.Updated, vault, key.Name, stored.Version, now));
            }
        }

        Publish(published);
        return result;
    }

    // ── Soft delete ────────────────────────────────────────────────────────────────────────────

    public DeletedKey Delete(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        var now = _time.GetUtcNow();
        var retentionDays = KeyRecovery.Days(vault) ?? 0;
        var scheduledPurgeDate = now.AddDays(retentionDays);
        DeletedKey deleted;
        string displayName;
        using (var unit = _store.BeginWrite())
        {
            var (key, latest) = ResolveIn(unit, vault, name, nameKey, null);
            SqliteKeyStore.SetDeleted(unit, key.VaultKey, key.NameKey, now, scheduledPurgeDate);
            unit.Commit();
            displayName = key.Name;
            deleted = new DeletedKey(ToKeyVersion(vault, key, latest), now, scheduledPurgeDate);
        }

        _cache.EvictPrefix(KeyPrefix(vault, nameKey));
        Publish([Event(KeyEventKind.Deleted, vault, displayName, null, now)]);
        return deleted;
    }

    public DeletedKey GetDeleted(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        using var connection = _store.OpenRead();
        var key = SqliteKeyStore.FindKey(connection, null, KeyRules.VaultKey(vault.Name), nameKey);
        if (key?.DeletedAt is not { } deletedAt)
        {
            throw DeletedKeyNotFound(name);
        }

        var latest = SqliteKeyStore.FindVersion(connection, null, key.VaultKey, key.NameKey, null)!;
        return new DeletedKey(ToKeyVersion(vault, key, latest), deletedAt, key.ScheduledPurgeDate!.Value);
    }

    public KeyPage<DeletedKey> ListDeleted(VaultRecord vault, int maxResults, string? skipToken)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var limit = CheckMaxResults(maxResults);
        var after = SkipTokens.ReadName(skipToken);
        using var connection = _store.OpenRead();
        var keys = SqliteKeyStore.ListKeys(connection, KeyRules.VaultKey(vault.Name), deleted: true, after, limit + 1);
        var page = keys.Take(limit)
            .Select(k => new DeletedKey(
                ToKeyVersion(vault, k, SqliteKeyStore.FindVersion(connection, null, k.VaultKey, k.NameKey, null)!),
                k.DeletedAt!.Value,
                k.ScheduledPurgeDate!.Value))
            .ToList();
        return new KeyPage<DeletedKey>(page, keys.Count > limit ? SkipTokens.Name(keys[limit - 1].NameKey) : null);
    }

    public KeyVersion Recover(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        var now = _time.GetUtcNow();
        KeyVersion recovered;
        using (var unit = _store.BeginWrite())
        {
            var key = SqliteKeyStore.FindKey(unit.Connection, unit.Transaction, KeyRules.VaultKey(vault.Name), nameKey);
            if (key?.DeletedAt is null)
            {
                throw DeletedKeyNotFound(name);
            }

            SqliteKeyStore.SetDeleted(unit, key.VaultKey, key.NameKey, null, null);
            var latest = SqliteKeyStore.FindVersion(unit.Connection, unit.Transaction, key.VaultKey, key.NameKey, null)!;
            unit.Commit();
            recovered = ToKeyVersion(vault, key with { DeletedAt = null, ScheduledPurgeDate = null }, latest);
        }

        Publish([Event(KeyEventKind.Recovered, vault, recovered.Name, null, now)]);
        return recovered;
    }

    /// <summary>403 Forbidden when the vault has purge protection and the retention has not passed.</summary>
    public void Purge(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        var now = _time.GetUtcNow();
        using var connection = _store.OpenRead();
        var key = SqliteKeyStore.FindKey(connection, null, KeyRules.VaultKey(vault.Name), nameKey);
        if (key?.DeletedAt is null)
        {
            throw DeletedKeyNotFound(name);
        }

        if (vault.EnablePurgeProtection && now < key.ScheduledPurgeDate)
        {
            throw KeyVaultException.Forbidden(
                "Operation \"purge\" is not allowed because purge protection is enabled for this vault. " +
                "Key Vault service will automatically purge it after the retention period has passed.",
                KeyVaultErrorCodes.PurgeProtected);
        }

        if (!PurgeKey(vault.Name, key, now, onlyIfDeleted: true))
        {
            throw DeletedKeyNotFound(name);
        }

        _store.Checkpoint();
    }

    // ── Maintenance ────────────────────────────────────────────────────────────────────────────

    /// <summary>Removes every key of a purged vault (HSM objects destroyed too).</summary>
    public void PurgeVault(string vaultName)
    {
        ArgumentException.ThrowIfNullOrEmpty(vaultName);
        var now = _time.GetUtcNow();
        List<StoredKey> keys;
        using (var connection = _store.OpenRead())
        {
            keys = SqliteKeyStore.AllKeys(connection, null, KeyRules.VaultKey(vaultName));
        }

        foreach (var key in keys)
        {
            PurgeKey(vaultName, key, now, onlyIfDeleted: false);
        }

        _cache.EvictPrefix(KeyRules.VaultKey(vaultName) + "/");
        if (keys.Count > 0)
        {
            _store.Checkpoint();
        }
    }

    public void Dispose() => _cache.Dispose();

    // ── Shared steps ───────────────────────────────────────────────────────────────────────────

    private sealed record ResolvedEntry(StoredKey Key, StoredVersion Version, long Generation);

    private enum AddMode
    {
        /// <summary>Create or import: a new key, or a new version of an active one.</summary>
        CreateOrAdd,

        /// <summary>Rotate: the key must exist and be active.</summary>
        Rotate,
    }

    /// <summary>What a new version will carry besides its material.</summary>
    private sealed record VersionDraft(string KeyType, IReadOnlyList<string> KeyOps, NewKeyAttributes? Attributes, IReadOnlyDictionary<string, string> Tags);

    /// <summary>A new version's private part: an RSA object to seal (and cache), or a key in the token.</summary>
    private sealed class NewMaterial
    {
        private NewMaterial(RSA? rsa, IHsmKeyStore? hsm, HsmKeyReference? reference)
        {
            Rsa = rsa;
            HsmStore = hsm;
            Reference = reference;
        }

        public RSA? Rsa { get; }

        public IHsmKeyStore? HsmStore { get; }

        public HsmKeyReference? Reference { get; }

        public static NewMaterial Software(RSA rsa) => new(rsa, null, null);

        public static NewMaterial Hsm(IHsmKeyStore hsm, HsmKeyReference reference) => new(null, hsm, reference);

        /// <summary>Undoes the material's side effects when its version was not stored.</summary>
        public void Abandon()
        {
            Rsa?.Dispose();
            if (Reference is not null)
            {
                TryDestroy(HsmStore, Reference.Handle);
            }
        }
    }

    private KeyVersion AddVersion(VaultRecord vault, string name, string nameKey, VersionDraft draft, NewMaterial material, AddMode mode)
    {
        var vaultKey = KeyRules.VaultKey(vault.Name);
        var now = _time.GetUtcNow();
        var version = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        byte[] modulus, exponent;
        byte[]? sealedPrivateKey = null;
        if (material.Rsa is { } rsa)
        {
            var parameters = rsa.ExportParameters(includePrivateParameters: false);
            modulus = parameters.Modulus!;
            exponent = parameters.Exponent!;
            sealedPrivateKey = SealPrivateKey(rsa, vaultKey, nameKey, version);
        }
        else
        {
            modulus = material.Reference!.Modulus;
            exponent = material.Reference.PublicExponent;
        }

        var attributes = new KeyAttributes(
            draft.Attributes?.Enabled ?? true,
            draft.Attributes?.NotBefore,
            draft.Attributes?.Expires,
            now,
            now,
            Exportable: false);
        KeyVersion result;
        try
        {
            using var unit = _store.BeginWrite();
            var key = SqliteKeyStore.FindKey(unit.Connection, unit.Transaction, vaultKey, nameKey);
            if (key?.DeletedAt is not null)
            {
                throw mode == AddMode.Rotate ? KeyVaultException.KeyNotFound(name) : KeyVaultException.DeletedButRecoverable(name);
            }

            if (key is null)
            {
                if (mode == AddMode.Rotate)
                {
                    throw KeyVaultException.KeyNotFound(name);
                }

                SqliteKeyStore.InsertKey(unit, vaultKey, nameKey, name, null);
                key = new StoredKey(vaultKey, nameKey, name, null, null, null);
            }

            var stored = new StoredVersion(
                version,
                SqliteKeyStore.NextSequence(unit, vaultKey, nameKey),
                draft.KeyType,
                modulus.Length * 8,
                modulus,
                exponent,
                draft.KeyOps,
                attributes,
                draft.Tags,
                material.Reference?.Handle,
                ExpiredNotified: false);
            SqliteKeyStore.InsertVersion(unit, vaultKey, nameKey, stored, sealedPrivateKey);
            unit.Commit();
            result = ToKeyVersion(vault, key, stored);
        }
        catch
        {
            material.Abandon();
            throw;
        }

        if (material.Rsa is not null)
        {
            _cache.Add(KeyMaterialCache.Id(vaultKey, nameKey, version), material.Rsa);
        }

        Publish([Event(KeyEventKind.VersionCreated, vault, result.Name, version, now)]);
        return result;
    }

    private byte[] SealPrivateKey(RSA rsa, string vaultKey, string nameKey, string version)
    {
        var pkcs8 = rsa.ExportPkcs8PrivateKey();
        try
        {
            return _protector.Seal(pkcs8, MaterialAad(vaultKey, nameKey, version));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>Associated data binding sealed material to its key version (lower-case lookup names).</summary>
    private static byte[] MaterialAad(string vaultKey, string nameKey, string version) =>
        Encoding.UTF8.GetBytes($"{vaultKey}/{nameKey}/{version}");

    private IHsmKeyStore RequireHsm(VaultRecord vault)
    {
        if (!string.Equals(vault.SkuName, "premium", StringComparison.OrdinalIgnoreCase))
        {
            throw KeyVaultException.BadParameter("RSA-HSM keys are only supported in premium vaults; this vault's SKU is " + vault.SkuName + ".");
        }

        return _protector.Hsm ?? throw KeyVaultException.BadParameter("RSA-HSM keys need a premium vault with an HSM; this server has none configured.");
    }

    /// <summary>Fails fast (before generating a key) when the name is soft-deleted; AddVersion re-checks in its transaction.</summary>
    private void RefuseDeletedName(VaultRecord vault, string name, string nameKey)
    {
        using var connection = _store.OpenRead();
        if (SqliteKeyStore.FindKey(connection, null, KeyRules.VaultKey(vault.Name), nameKey)?.DeletedAt is not null)
        {
            throw KeyVaultException.DeletedButRecoverable(name);
        }
    }

    /// <summary>
    /// The active key and its version (latest when <paramref name="version"/> is null or empty), from
    /// the resolution cache when no write has committed since it was read, else from the store.
    /// </summary>
    private (StoredKey Key, StoredVersion Version) Resolve(VaultRecord vault, string name, string? version)
    {
        var nameKey = KeyRules.NameKey(name);
        var id = $"{KeyRules.VaultKey(vault.Name)}/{nameKey}/{version?.ToLowerInvariant()}";
        var generation = _store.Generation;
        if (_resolved.TryGetValue(id, out var cached) && cached.Generation == generation)
        {
            return (cached.Key, cached.Version);
        }

        using var connection = _store.OpenRead();
        var found = Find(connection, null, vault, name, nameKey, version);
        if (_resolved.Count >= ResolvedEntriesMax)
        {
            _resolved.Clear();
        }

        _resolved[id] = new ResolvedEntry(found.Key, found.Version, generation);
        return found;
    }

    private static (StoredKey Key, StoredVersion Version) ResolveIn(SqliteKeyStore.WriteUnit unit, VaultRecord vault, string name, string nameKey, string? version) =>
        Find(unit.Connection, unit.Transaction, vault, name, nameKey, version);

    private static (StoredKey Key, StoredVersion Version) Find(
        Microsoft.Data.Sqlite.SqliteConnection connection, Microsoft.Data.Sqlite.SqliteTransaction? transaction, VaultRecord vault, string name, string nameKey, string? version)
    {
        var key = SqliteKeyStore.FindKey(connection, transaction, KeyRules.VaultKey(vault.Name), nameKey);
        if (key is null || key.DeletedAt is not null)
        {
            throw KeyVaultException.KeyNotFound(name, string.IsNullOrEmpty(version) ? null : version);
        }

        string? wanted = null;
        if (!string.IsNullOrEmpty(version))
        {
            wanted = KeyRules.NormalizeVersion(version) ?? throw KeyVaultException.KeyNotFound(name, version);
        }

        var stored = SqliteKeyStore.FindVersion(connection, transaction, key.VaultKey, key.NameKey, wanted)
            ?? throw KeyVaultException.KeyNotFound(name, version);
        return (key, stored);
    }

    /// <summary>Deletes a key's rows, destroys its token objects, evicts its cache entries, publishes Purged.</summary>
    private bool PurgeKey(string vaultName, StoredKey key, DateTimeOffset now, bool onlyIfDeleted)
    {
        var handles = new List<string>();
        using (var unit = _store.BeginWrite())
        {
            var current = SqliteKeyStore.FindKey(unit.Connection, unit.Transaction, key.VaultKey, key.NameKey);
            if (current is null || (onlyIfDeleted && current.DeletedAt is null))
            {
                return false;
            }

            foreach (var version in SqliteKeyStore.ListVersions(unit.Connection, unit.Transaction, key.VaultKey, key.NameKey, 0, int.MaxValue))
            {
                if (version.HsmHandle is not null)
                {
                    handles.Add(version.HsmHandle);
                }
            }

            SqliteKeyStore.DeleteKey(unit, key.VaultKey, key.NameKey);
            unit.Commit();
        }

        _cache.EvictPrefix($"{key.VaultKey}/{key.NameKey}/");
        foreach (var handle in handles)
        {
            // The row is gone, so nothing can reach the object any more; a token that refuses to
            // destroy it keeps an unreachable, non-extractable key (docs/keyvault/keys-lifecycle.md).
            TryDestroy(_protector.Hsm, handle);
        }

        Publish([new KeyEvent(KeyEventKind.Purged, vaultName, key.Name, null, null, now)]);
        return true;
    }

    /// <summary>Destroys a token object on a path that must not fail (cleanup, or after a committed purge).</summary>
    private static void TryDestroy(IHsmKeyStore? hsm, string handle)
    {
        try
        {
            hsm?.Destroy(handle);
        }
#pragma warning disable CA1031 // Whatever the token's failure (Pkcs11Exception included), the caller's outcome stands.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static KeyVersion ToKeyVersion(VaultRecord vault, StoredKey key, StoredVersion stored) => new(
        vault.Name,
        key.Name,
        stored.Version,
        stored.KeyType,
        stored.KeySize,
        stored.Modulus,
        stored.PublicExponent,
        stored.KeyOps,
        stored.Attributes,
        stored.Tags,
        Managed: false);

    private static string KeyPrefix(VaultRecord vault, string nameKey) => $"{KeyRules.VaultKey(vault.Name)}/{nameKey}/";

    private static int CheckMaxResults(int maxResults) =>
        maxResults is >= 1 and <= MaxResultsLimit
            ? maxResults
            : throw KeyVaultException.BadParameter($"maxresults must be between 1 and {MaxResultsLimit}; {maxResults} was given.");

    private static KeyVaultException DeletedKeyNotFound(string name) =>
        new(404, KeyVaultErrorCodes.KeyNotFound, $"Deleted Key not found: {name}");

    private static KeyEvent Event(KeyEventKind kind, VaultRecord vault, string name, string? version, DateTimeOffset at) =>
        new(kind, vault.Name, name, version, null, at);

    private void Publish(IEnumerable<KeyEvent> published)
    {
        foreach (var keyEvent in published)
        {
            _events.Publish(keyEvent);
        }
    }
}
