// DataKeyService + SqliteDataKeyStore on a real SQLite metadata database, wrapping through vaults of a
// real server: DEKs round-trip through one and two layers, a re-wrap keeps the DEK, the acting identity
// is looked up at unwrap time, a refused wrap stores nothing, and shredding leaves no wrapped byte in
// metadata.db or its WAL. The set directory and the platform's identity are plain lookup tables here
// (their real implementations are other areas' and are exercised in their tests).
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Platform;
using Ironclad.Compute.Tests.KeyAccess;
using Ironclad.Crypto.Keys;
using Ironclad.Metadata;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.DataKeys;

/// <summary>The data-key tests' server (vault ports 25020-25029).</summary>
public sealed class DataKeysServer : VaultTestServer
{
    protected override string VaultPorts => "25020-25029";
}

public sealed class DataKeyServiceTests(DataKeysServer server) : IClassFixture<DataKeysServer>, IDisposable
{
    private static readonly string[] Full = ["get", "wrapKey", "unwrapKey"];

    private readonly TempDirectory _directory = new("ironclad-datakeys");
    private readonly SetTable _sets = new();
    private readonly PlatformTable _platform = new();

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Two_layer_DEKs_round_trip_and_are_stored_only_wrapped()
    {
        var (database, store, service) = Open();
        var customer = await CustomerTargetAsync("dk-two-inner");
        var platform = await PlatformTargetAsync("dk-two-outer", "eastus");
        var volume = Guid.NewGuid();

        byte[] inner, outer;
        using (var created = await service.CreateAsync(volume, new EncryptionPlan(customer, platform), Cancel))
        {
            inner = Bytes(created.Inner);
            outer = Bytes(created.Outer!);
        }

        Assert.NotEqual(inner, outer);
        var records = store.ForVolume(volume);
        Assert.Equal([KeyLayer.Inner, KeyLayer.Outer], records.Select(r => r.Layer));
        Assert.Equal(KeyEncryptionKind.Customer, records[0].Kind);
        Assert.Equal(customer.EncryptionSetId, records[0].EncryptionSetId);
        Assert.Equal("eastus", records[1].PlatformRegion);
        Assert.All(records, r => Assert.True(r.Wrapped.Kid.IsVersioned));
        Assert.Single(store.ForEncryptionSet(customer.EncryptionSetId!.ToUpperInvariant()));
        Assert.Single(store.ForPlatformRegion("EastUS"));
        Assert.Single(store.ForKey(customer.Key.VaultUri, customer.Key.Name.ToUpperInvariant()));

        using (var unwrapped = await service.UnwrapAsync(volume, Cancel))
        {
            Assert.Equal(inner, Bytes(unwrapped.Inner));
            Assert.Equal(outer, Bytes(unwrapped.Outer!));
        }

        // Neither plaintext DEK is anywhere in the database files.
        Assert.Empty(PlaintextScanner.Scan(_directory.Path, [inner, outer]));
        _ = database;
    }

    [Fact]
    public async Task Rewrap_to_another_key_keeps_the_DEK_and_bumps_the_revision()
    {
        var (_, store, service) = Open();
        var first = await CustomerTargetAsync("dk-rewrap-a");
        var second = await CustomerTargetAsync("dk-rewrap-b");
        var volume = Guid.NewGuid();
        byte[] dek;
        using (var created = await service.CreateAsync(volume, new EncryptionPlan(first, null), Cancel))
        {
            dek = Bytes(created.Inner);
        }

        var before = store.ForVolume(volume).Single();
        var after = await service.RewrapAsync(volume, KeyLayer.Inner, second, Cancel);
        Assert.Equal(before.Revision + 1, after.Revision);
        Assert.True(second.Key.IsSameKey(after.Wrapped.Kid));
        Assert.Equal(second.EncryptionSetId, store.ForVolume(volume).Single().EncryptionSetId);
        Assert.Empty(store.ForEncryptionSet(first.EncryptionSetId!));

        using var unwrapped = await service.UnwrapAsync(volume, Cancel);
        Assert.Equal(dek, Bytes(unwrapped.Inner));

        // The compare-and-swap refuses a stale revision.
        Assert.False(store.TryReplace(before, before.Revision));
    }

    [Fact]
    public async Task Unwrap_acts_as_the_current_identity_of_the_set()
    {
        var (_, _, service) = Open();
        var target = await CustomerTargetAsync("dk-identity");
        var volume = Guid.NewGuid();
        (await service.CreateAsync(volume, new EncryptionPlan(target, null), Cancel)).Dispose();

        var stranger = await server.CreatePrincipalAsync(Cancel);
        _sets.Put(target.EncryptionSetId!, target.Key, stranger.ObjectId);
        var e = await Assert.ThrowsAsync<KeyAccessException>(() => service.UnwrapAsync(volume, Cancel));
        Assert.Equal(KeyAccessFailure.PermissionDenied, e.Failure);
        Assert.Equal("unwrapKey", e.MissingPermission);

        _sets.Remove(target.EncryptionSetId!);
        var gone = await Assert.ThrowsAsync<KeyAccessException>(() => service.UnwrapAsync(volume, Cancel));
        Assert.Equal(KeyAccessFailure.IdentityRejected, gone.Failure);
    }

    [Fact]
    public async Task A_refused_wrap_stores_nothing()
    {
        var (_, store, service) = Open();
        var good = await CustomerTargetAsync("dk-refused", ["get", "unwrapKey"]);
        var volume = Guid.NewGuid();
        var e = await Assert.ThrowsAsync<KeyAccessException>(() => service.CreateAsync(volume, new EncryptionPlan(good, null), Cancel));
        Assert.Equal(KeyAccessFailure.PermissionDenied, e.Failure);
        Assert.Equal("wrapKey", e.MissingPermission);
        Assert.Empty(store.ForVolume(volume));
    }

    [Fact]
    public async Task Shared_layers_unwrap_to_the_same_DEK_and_survive_the_shred_of_the_source()
    {
        var (_, store, service) = Open();
        var target = await CustomerTargetAsync("dk-share");
        var disk = Guid.NewGuid();
        var snapshot = Guid.NewGuid();
        byte[] dek;
        using (var created = await service.CreateAsync(disk, new EncryptionPlan(target, null), Cancel))
        {
            dek = Bytes(created.Inner);
        }

        service.ShareLayers(disk, snapshot);
        Assert.Throws<InvalidOperationException>(() => service.ShareLayers(disk, snapshot));
        service.Shred(disk);
        Assert.Empty(store.ForVolume(disk));
        using var unwrapped = await service.UnwrapAsync(snapshot, Cancel);
        Assert.Equal(dek, Bytes(unwrapped.Inner));
    }

    [Fact]
    public async Task Shred_removes_the_rows_and_leaves_no_wrapped_bytes_in_the_database_or_its_WAL()
    {
        var (database, store, service) = Open();
        var target = await CustomerTargetAsync("dk-shred");
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        var volumes = Enumerable.Range(0, 6).Select(_ => new Guid(RandomBytes(random, 16))).ToList();
        foreach (var volume in volumes)
        {
            (await service.CreateAsync(volume, new EncryptionPlan(target, null), Cancel)).Dispose();
        }

        var shredded = volumes.Take(3).ToList();
        var kept = volumes.Skip(3).ToList();
        var shreddedWrapped = shredded.Select(v => store.ForVolume(v).Single().Wrapped.Value).ToList();
        var keptWrapped = kept.Select(v => store.ForVolume(v).Single().Wrapped.Value).ToList();

        // Positive control: before the shred the scanner finds every wrapped DEK (db or WAL).
        var before = PlaintextScanner.Scan(_directory.Path, shreddedWrapped);
        Assert.True(before.Select(f => f.PatternIndex).Distinct().Count() == shreddedWrapped.Count, $"seed {seed}: scanner must see the wrapped DEKs before the shred");

        foreach (var volume in shredded)
        {
            service.Shred(volume);
            Assert.Empty(store.ForVolume(volume));
        }

        // Every file of the database (metadata.db, -wal, -shm): no shredded wrapped DEK, nor a 32-byte piece of one.
        var pieces = shreddedWrapped.SelectMany(w => new[] { w, w[..32], w[^32..] }).ToList();
        var findings = PlaintextScanner.Scan(_directory.Path, pieces);
        Assert.True(findings.Count == 0, $"seed {seed}: wrapped DEK bytes remain after shred: {string.Join("; ", findings)}");

        // The other volumes' keys are intact and still unwrap.
        Assert.Equal(kept.Count, PlaintextScanner.Scan(_directory.Path, keptWrapped).Select(f => f.PatternIndex).Distinct().Count());
        foreach (var volume in kept)
        {
            (await service.UnwrapAsync(volume, Cancel)).Dispose();
        }

        _ = database;
    }

    // ── Helpers ────────────────────────────────────────────────────────────────────────────────

    private (MetadataDatabase Database, SqliteDataKeyStore Store, DataKeyService Service) Open()
    {
        var database = MetadataDatabase.Open(_directory.Combine("metadata.db"));
        var store = new SqliteDataKeyStore(database);
        var service = new DataKeyService(store, server.CreateVaultKeyClient(), () => _sets, () => _platform, TimeProvider.System);
        return (database, store, service);
    }

    /// <summary>A vault + RSA key + principal granted <paramref name="permissions"/>, registered as a set.</summary>
    private async Task<KeyEncryptionTarget> CustomerTargetAsync(string vaultName, string[]? permissions = null)
    {
        var (key, principal) = await KeyAsync(vaultName, permissions ?? Full);
        var setId = $"/subscriptions/{server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/{vaultName}";
        _sets.Put(setId, key, principal.ObjectId);
        return new KeyEncryptionTarget(KeyEncryptionKind.Customer, principal.ObjectId, key.Versionless(), setId, null);
    }

    private async Task<KeyEncryptionTarget> PlatformTargetAsync(string vaultName, string region)
    {
        var (key, principal) = await KeyAsync(vaultName, Full);
        _platform.Principals[region] = principal.ObjectId;
        return new KeyEncryptionTarget(KeyEncryptionKind.Platform, principal.ObjectId, key.Versionless(), null, region);
    }

    private async Task<(KeyReference Key, TestPrincipal Principal)> KeyAsync(string vaultName, string[] permissions)
    {
        var vault = await server.CreateVaultAsync(vaultName, Cancel);
        var key = await server.CreateKeyAsync(vault, "dek-wrapper", 2048, Cancel);
        var principal = await server.CreatePrincipalAsync(Cancel);
        await server.GrantAsync(vaultName, principal.ObjectId, permissions, Cancel);
        return (key, principal);
    }

    private static byte[] Bytes(DataKey key) => key.UseBytes(0, static (bytes, _) => bytes.ToArray());

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Sets by id → (key, acting identity): the lookup DataKeyService does at unwrap time.</summary>
    private sealed class SetTable : IEncryptionSetDirectory
    {
        private readonly Dictionary<string, EncryptionSetInfo> _sets = new(StringComparer.OrdinalIgnoreCase);

        public void Put(string id, KeyReference key, Guid principal) =>
            _sets[id] = new EncryptionSetInfo(id, Guid.Empty, "rg", id.Split('/')[^1], "eastus", EncryptionTypes.CustomerKey, key, "/vault", principal, false);

        public void Remove(string id) => _sets.Remove(id);

        public EncryptionSetInfo? Find(string encryptionSetId) => _sets.GetValueOrDefault(encryptionSetId);

        public IReadOnlyList<EncryptionSetInfo> All() => [.. _sets.Values];
    }

    /// <summary>Region → platform identity: all DataKeyService asks of the platform keys.</summary>
    private sealed class PlatformTable : IPlatformKeys
    {
        public Dictionary<string, Guid> Principals { get; } = new(StringComparer.OrdinalIgnoreCase);

        public Guid PrincipalFor(string region) => Principals[region];

        public Task<KeyEncryptionTarget> CurrentAsync(string region, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task RotateAsync(string region, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
