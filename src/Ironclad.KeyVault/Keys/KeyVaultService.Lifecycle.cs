// Import (BYOK), rotation (by hand and by policy), rotation policies, backup/restore and the
// maintenance run. Invariants: an imported private key is checked for consistency before anything is
// stored; a restore writes all versions (ids kept) in one transaction or nothing; maintenance acts
// only on keys of the active vaults it is given and publishes each Expired once per version.
using System.Security.Cryptography;
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Protection;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Keys;

public sealed partial class KeyVaultService
{
    public KeyVersion Import(VaultRecord vault, string name, ImportKeyRequest request)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Key);
        var nameKey = KeyRules.NameKey(name);
        var keyOps = KeyRules.KeyOpsOrDefault(request.Key.KeyOps);
        var tags = KeyRules.Tags(request.Tags);
        KeyRules.Window(request.Attributes?.NotBefore, request.Attributes?.Expires);
        KeyRules.Exportable(request.Attributes?.Exportable);
        var parameters = JwkImport.Parse(request.Key, out var keyType, out _);
        try
        {
            var hsm = request.Hsm || keyType == KeyTypes.RsaHsm ? RequireHsm(vault) : null;
            RefuseDeletedName(vault, name, nameKey);
            var draft = new VersionDraft(hsm is null ? KeyTypes.Rsa : KeyTypes.RsaHsm, keyOps, request.Attributes, tags);
            if (hsm is not null)
            {
                return AddVersion(vault, name, nameKey, draft, NewMaterial.Hsm(hsm, hsm.Import(parameters)), AddMode.CreateOrAdd);
            }

            var rsa = RSA.Create();
            rsa.ImportParameters(parameters);
            return AddVersion(vault, name, nameKey, draft, NewMaterial.Software(rsa), AddMode.CreateOrAdd);
        }
        finally
        {
            JwkImport.Clear(parameters);
        }
    }

    /// <summary>A new version with the latest version's type, size, key_ops and tags, and exp from the rotation policy.</summary>
    public KeyVersion Rotate(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        var (key, latest) = Resolve(vault, name, null);
        var policy = RotationSchedule.FromJson(key.RotationPolicyJson);
        var expires = RotationSchedule.NewVersionExpiry(policy, _time.GetUtcNow());
        var draft = new VersionDraft(latest.KeyType, latest.KeyOps, new NewKeyAttributes(true, null, expires, null), latest.Tags);
        if (latest.KeyType == KeyTypes.RsaHsm)
        {
            var hsm = RequireHsm(vault);
            return AddVersion(vault, key.Name, nameKey, draft, NewMaterial.Hsm(hsm, hsm.Generate(latest.KeySize, KeyRules.DefaultPublicExponent)), AddMode.Rotate);
        }

        return AddVersion(vault, key.Name, nameKey, draft, NewMaterial.Software(RSA.Create(latest.KeySize)), AddMode.Rotate);
    }

    /// <summary>The key's policy, or the cloud's default (Notify 30 days before expiry) when none was set.</summary>
    public RotationPolicy GetRotationPolicy(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var (key, _) = Resolve(vault, name, null);
        return RotationSchedule.FromJson(key.RotationPolicyJson) ?? RotationSchedule.Default;
    }

    public RotationPolicy SetRotationPolicy(VaultRecord vault, string name, RotationPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(policy);
        var nameKey = KeyRules.NameKey(name);
        var validated = RotationSchedule.Validate(policy);
        var now = _time.GetUtcNow();
        using var unit = _store.BeginWrite();
        var (key, _) = ResolveIn(unit, vault, name, nameKey, null);
        var existing = RotationSchedule.FromJson(key.RotationPolicyJson);
        RotationPolicy? stored = validated.LifetimeActions.Count == 0
            ? null
            : validated with { Created = existing?.Created ?? now, Updated = now };
        SqliteKeyStore.SetRotationPolicy(unit, key.VaultKey, key.NameKey, RotationSchedule.ToJson(stored));
        unit.Commit();
        return stored ?? RotationSchedule.Default;
    }

    /// <summary>Every version, sealed under the root key, as one opaque blob.</summary>
    public byte[] Backup(VaultRecord vault, string name)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var nameKey = KeyRules.NameKey(name);
        using var connection = _store.OpenRead();
        var key = SqliteKeyStore.FindKey(connection, null, KeyRules.VaultKey(vault.Name), nameKey);
        if (key is null || key.DeletedAt is not null)
        {
            throw KeyVaultException.KeyNotFound(name);
        }

        var versions = new List<KeyBackup.BackupVersion>();
        foreach (var v in SqliteKeyStore.ListVersions(connection, null, key.VaultKey, key.NameKey, 0, int.MaxValue))
        {
            var material = SqliteKeyStore.FindMaterial(connection, null, key.VaultKey, key.NameKey, v.Version)!;
            byte[]? sealedForBackup = null;
            byte[]? hsmWrapped = null;
            if (material.SealedPrivateKey is { } sealedBlob)
            {
                var pkcs8 = _protector.Unseal(sealedBlob, MaterialAad(key.VaultKey, key.NameKey, v.Version));
                try
                {
                    sealedForBackup = _protector.Seal(pkcs8, KeyBackup.MaterialAad(v.Version));
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(pkcs8);
                }
            }
            else
            {
                hsmWrapped = Hsm().ExportWrapped(material.HsmHandle!);
            }

            var a = v.Attributes;
            versions.Add(new KeyBackup.BackupVersion(
                v.Version, v.Sequence, v.KeyType, v.KeySize, v.Modulus, v.PublicExponent, v.KeyOps, a.Enabled,
                SqliteKeyStore.Ms(a.NotBefore), SqliteKeyStore.Ms(a.Expires), a.Created.ToUnixTimeMilliseconds(), a.Updated.ToUnixTimeMilliseconds(),
                v.Tags, sealedForBackup, hsmWrapped));
        }

        return KeyBackup.Write(_protector, new KeyBackup.BackupPayload(KeyBackup.AssociatedData, key.Name, key.RotationPolicyJson, versions));
    }

    /// <summary>Restores a backup into <paramref name="vault"/>; 409 if the name exists (active or deleted); 400 if the blob is not ours.</summary>
    public KeyVersion Restore(VaultRecord vault, ReadOnlySpan<byte> backup)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var payload = KeyBackup.Read(_protector, backup);
        var name = payload.Name;
        var nameKey = KeyRules.NameKey(name);
        var vaultKey = KeyRules.VaultKey(vault.Name);
        RefuseExistingName(vault, name, nameKey);
        if (payload.Versions.Any(v => v.HsmWrapped is not null))
        {
            RequireHsm(vault);
        }

        var now = _time.GetUtcNow();
        var restored = new List<(StoredVersion Version, byte[]? Sealed)>();
        var createdHandles = new List<string>();
        try
        {
            foreach (var v in payload.Versions.OrderBy(v => v.Sequence))
            {
                var version = KeyRules.NormalizeVersion(v.Version) ?? throw KeyBackup.NotOurs();
                byte[]? sealedPrivateKey = null;
                string? handle = null;
                if (v.SealedPrivateKey is { } inner)
                {
                    byte[] pkcs8;
                    try
                    {
                        pkcs8 = _protector.Unseal(inner, KeyBackup.MaterialAad(version));
                    }
                    catch (CryptographicException)
                    {
                        throw KeyBackup.NotOurs();
                    }

                    try
                    {
                        sealedPrivateKey = _protector.Seal(pkcs8, MaterialAad(vaultKey, nameKey, version));
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(pkcs8);
                    }
                }
                else if (v.HsmWrapped is { } wrapped)
                {
                    HsmKeyReference reference;
                    try
                    {
                        reference = Hsm().ImportWrapped(wrapped);
                    }
                    catch (CryptographicException)
                    {
                        // Wrapped by another token (another server's HSM) or altered.
                        throw KeyBackup.NotOurs();
                    }

                    if (!reference.Modulus.AsSpan().SequenceEqual(v.Modulus))
                    {
                        TryDestroy(_protector.Hsm, reference.Handle);
                        throw KeyBackup.NotOurs();
                    }

                    createdHandles.Add(reference.Handle);
                    handle = reference.Handle;
                }
                else
                {
                    throw KeyBackup.NotOurs();
                }

                restored.Add((new StoredVersion(
                    version, v.Sequence, v.KeyType, v.KeySize, v.Modulus, v.PublicExponent, v.KeyOps,
                    new KeyAttributes(
                        v.Enabled,
                        v.NotBeforeMs is { } nbf ? DateTimeOffset.FromUnixTimeMilliseconds(nbf) : null,
                        v.ExpiresMs is { } exp ? DateTimeOffset.FromUnixTimeMilliseconds(exp) : null,
                        DateTimeOffset.FromUnixTimeMilliseconds(v.CreatedMs),
                        DateTimeOffset.FromUnixTimeMilliseconds(v.UpdatedMs),
                        Exportable: false),
                    v.Tags, handle, ExpiredNotified: false), sealedPrivateKey));
            }

            using var unit = _store.BeginWrite();
            var existing = SqliteKeyStore.FindKey(unit.Connection, unit.Transaction, vaultKey, nameKey);
            if (existing is not null)
            {
                throw existing.DeletedAt is null ? NameInUse(name) : KeyVaultException.DeletedButRecoverable(name);
            }

            SqliteKeyStore.InsertKey(unit, vaultKey, nameKey, name, payload.RotationPolicyJson);
            foreach (var (version, sealedPrivateKey) in restored)
            {
                SqliteKeyStore.InsertVersion(unit, vaultKey, nameKey, version, sealedPrivateKey);
            }

            unit.Commit();
        }
        catch
        {
            foreach (var handle in createdHandles)
            {
                TryDestroy(_protector.Hsm, handle);
            }

            throw;
        }

        var key = new StoredKey(vaultKey, nameKey, name, null, null, payload.RotationPolicyJson);
        Publish(restored.Select(r => Event(KeyEventKind.VersionCreated, vault, name, r.Version.Version, now)));
        return ToKeyVersion(vault, key, restored[^1].Version);
    }

    // ── Maintenance ────────────────────────────────────────────────────────────────────────────

    /// <summary>
    /// Runs what time makes due, as of the TimeProvider's now: rotates keys whose policy says so,
    /// publishes Expired once per version whose exp has passed, purges deleted keys past their
    /// scheduled purge date. <paramref name="vaults"/> are the active vaults. Returns what it did.
    /// </summary>
    public KeyMaintenanceReport RunMaintenance(IReadOnlyList<VaultRecord> vaults)
    {
        ArgumentNullException.ThrowIfNull(vaults);
        var now = _time.GetUtcNow();
        var byKey = vaults.ToDictionary(v => KeyRules.VaultKey(v.Name), StringComparer.Ordinal);
        int rotated = 0, expired = 0, purged = 0;

        // 1. Expiry: mark each due version once, then tell the subscribers.
        var expiredEvents = new List<KeyEvent>();
        using (var unit = _store.BeginWrite())
        {
            foreach (var (vaultKey, nameKey, version) in SqliteKeyStore.DueExpiries(unit.Connection, unit.Transaction, now))
            {
                if (!byKey.TryGetValue(vaultKey, out var vault))
                {
                    continue;
                }

                var key = SqliteKeyStore.FindKey(unit.Connection, unit.Transaction, vaultKey, nameKey)!;
                var stored = SqliteKeyStore.FindVersion(unit.Connection, unit.Transaction, vaultKey, nameKey, version)!;
                SqliteKeyStore.UpdateVersion(unit, vaultKey, nameKey, stored with { ExpiredNotified = true });
                expiredEvents.Add(Event(KeyEventKind.Expired, vault, key.Name, version, now));
            }

            unit.Commit();
        }

        Publish(expiredEvents);
        expired = expiredEvents.Count;

        // 2. Rotation and 3. purge, key by key.
        List<StoredKey> keys;
        using (var connection = _store.OpenRead())
        {
            keys = SqliteKeyStore.AllKeys(connection, null, null);
        }

        foreach (var key in keys)
        {
            if (!byKey.TryGetValue(key.VaultKey, out var vault))
            {
                continue;
            }

            if (key.DeletedAt is not null)
            {
                if (key.ScheduledPurgeDate <= now && PurgeKey(vault.Name, key, now, onlyIfDeleted: true))
                {
                    purged++;
                }

                continue;
            }

            if (RotationSchedule.FromJson(key.RotationPolicyJson) is not { } policy)
            {
                continue;
            }

            StoredVersion? latest;
            using (var connection = _store.OpenRead())
            {
                latest = SqliteKeyStore.FindVersion(connection, null, key.VaultKey, key.NameKey, null);
            }

            if (latest is not null && RotationSchedule.RotationDue(policy, latest.Attributes) <= now)
            {
                try
                {
                    Rotate(vault, key.Name);
                    rotated++;
                }
                catch (KeyVaultException)
                {
                    // Deleted meanwhile, or an RSA-HSM key on a server without its HSM: the next run tries again.
                }
            }
        }

        if (purged > 0)
        {
            _store.Checkpoint();
        }

        return new KeyMaintenanceReport(rotated, expired, purged);
    }

    private void RefuseExistingName(VaultRecord vault, string name, string nameKey)
    {
        using var connection = _store.OpenRead();
        var existing = SqliteKeyStore.FindKey(connection, null, KeyRules.VaultKey(vault.Name), nameKey);
        if (existing is not null)
        {
            throw existing.DeletedAt is null ? NameInUse(name) : KeyVaultException.DeletedButRecoverable(name);
        }
    }

    private static KeyVaultException NameInUse(string name) =>
        KeyVaultException.Conflict($"A key named {name} already exists in this vault; a backup can only be restored under a name that is not in use.");
}

public sealed record KeyMaintenanceReport(int Rotated, int Expired, int Purged);
