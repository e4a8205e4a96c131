// Backup and restore: all versions, attributes and the policy come back with their version ids; a
// name in use (active or deleted), a tampered blob or one sealed by another root key is refused and
// stores nothing.
using System.Security.Cryptography;
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Tests;

public sealed class BackupTests : IDisposable
{
    private readonly KeysHarness _h = new();
    private readonly VaultRecord _vault = KeysHarness.Vault();

    [Fact]
    public void A_purged_key_restored_from_its_backup_has_the_same_versions_attributes_and_policy()
    {
        var first = _h.Service.Create(_vault, "Cmk", KeysHarness.Rsa(tags: new Dictionary<string, string> { ["a"] = "b" }));
        var cek = RandomNumberGenerator.GetBytes(32);
        var wrapped = _h.Service.WrapKey(_vault, "cmk", null, KeyAlgorithms.RsaOaep256, cek).Value;
        _h.Time.Advance(TimeSpan.FromMinutes(1));
        var second = _h.Service.Create(_vault, "cmk", KeysHarness.Rsa(attributes: new NewKeyAttributes(false, null, KeysHarness.Start.AddDays(100), null)));
        var policy = _h.Service.SetRotationPolicy(_vault, "cmk", new RotationPolicy([new LifetimeAction("Rotate", "P30D", null)], "P60D", null, null));
        var versionsBefore = _h.Service.ListVersions(_vault, "cmk", 25, null).Items;

        var blob = _h.Service.Backup(_vault, "cmk");
        _h.Service.Delete(_vault, "cmk");
        _h.Service.Purge(_vault, "cmk");
        _h.Events.Clear();
        _h.Time.Advance(TimeSpan.FromDays(1));

        var restored = _h.Service.Restore(_vault, blob);
        Assert.Equal(second.Version, restored.Version);
        Assert.Equal("Cmk", restored.Name);
        Assert.Equal(versionsBefore, _h.Service.ListVersions(_vault, "cmk", 25, null).Items, new VersionComparer());
        RotationTests.AssertSame(policy, _h.Service.GetRotationPolicy(_vault, "cmk"));
        Assert.Equal(cek, _h.Service.UnwrapKey(_vault, "cmk", first.Version, KeyAlgorithms.RsaOaep256, wrapped).Value);
        Assert.Equal([first.Version, second.Version], _h.Events.Where(e => e.Kind == KeyEventKind.VersionCreated).Select(e => e.KeyVersion));
    }

    [Fact]
    public void A_backup_restores_into_another_vault()
    {
        var key = _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[32]).Value;
        var other = KeysHarness.Vault("v2", port: 20001);
        var restored = _h.Service.Restore(other, _h.Service.Backup(_vault, "k"));
        Assert.Equal(key.Version, restored.Version);
        Assert.Equal("v2", restored.Vault);
        Assert.Equal(new byte[32], _h.Service.UnwrapKey(other, "k", null, KeyAlgorithms.RsaOaep, wrapped).Value);
    }

    [Fact]
    public void Restore_over_an_existing_or_deleted_name_is_a_conflict()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var blob = _h.Service.Backup(_vault, "k");
        var active = Assert.Throws<KeyVaultException>(() => _h.Service.Restore(_vault, blob));
        Assert.Equal((409, "Conflict"), (active.Status, active.Code));
        _h.Service.Delete(_vault, "k");
        var deleted = Assert.Throws<KeyVaultException>(() => _h.Service.Restore(_vault, blob));
        Assert.Equal((409, "ObjectIsDeletedButRecoverable"), (deleted.Status, deleted.InnerCode));
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Backup(_vault, "k")).Status);
    }

    [Fact]
    public void Tampered_truncated_or_foreign_blobs_are_bad_parameters_and_store_nothing()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var blob = _h.Service.Backup(_vault, "k");
        _h.Service.Delete(_vault, "k");
        _h.Service.Purge(_vault, "k");
        var before = _h.Snapshot();

        using var foreign = new KeysHarness();
        foreign.Service.Create(_vault, "k", KeysHarness.Rsa());
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var flipped = (byte[])blob.Clone();
        flipped[30 + random.Next(blob.Length - 30)] ^= 0x20;
        foreach (var bad in new[] { flipped, blob[..^1], blob[..20], "not a backup"u8.ToArray(), [], foreign.Service.Backup(_vault, "k") })
        {
            var e = Assert.Throws<KeyVaultException>(() => _h.Service.Restore(_vault, bad));
            Assert.True((400, "BadParameter") == (e.Status, e.Code), $"seed={seed}");
        }

        Assert.Equal(before, _h.Snapshot());
        _h.Service.Restore(_vault, blob);
    }

    private sealed class VersionComparer : IEqualityComparer<KeyVersion>
    {
        public bool Equals(KeyVersion? x, KeyVersion? y) =>
            x!.Version == y!.Version && x.Modulus.AsSpan().SequenceEqual(y.Modulus) && x.KeyOps.SequenceEqual(y.KeyOps)
            && x.Attributes == y.Attributes && x.Tags.Count == y.Tags.Count && !x.Tags.Except(y.Tags).Any();

        public int GetHashCode(KeyVersion obj) => obj.Version.GetHashCode(StringComparison.Ordinal);
    }

    public void Dispose() => _h.Dispose();
}
