// Create, get, list, update, soft delete, recover and purge over the real store, with time moved by a
// FakeTimeProvider through retention.
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Keys;

namespace Ironclad.KeyVault.Tests;

public sealed class KeyLifecycleTests : IDisposable
{
    private readonly KeysHarness _h = new();
    private readonly Ironclad.ResourceManager.KeyVault.VaultRecord _vault = KeysHarness.Vault(retentionDays: 7);

    [Fact]
    public void Create_returns_a_2048_bit_key_with_the_default_ops_and_get_finds_it()
    {
        var created = _h.Service.Create(_vault, "Key-1", KeysHarness.Rsa());
        Assert.Equal("Key-1", created.Name);
        Assert.Equal(KeyTypes.Rsa, created.KeyType);
        Assert.Equal(2048, created.KeySize);
        Assert.Equal(256, created.Modulus.Length);
        Assert.Equal([1, 0, 1], created.PublicExponent);
        Assert.Equal(KeyOps.AllRsa, created.KeyOps);
        Assert.Matches("^[0-9a-f]{32}$", created.Version);
        Assert.True(created.Attributes.Enabled);
        Assert.Equal(KeysHarness.Start, created.Attributes.Created);

        var latest = _h.Service.Get(_vault, "key-1", null);
        Assert.Equal(created.Version, latest.Version);
        Assert.Equal("Key-1", latest.Name);
        Assert.Equal(created.Modulus, _h.Service.Get(_vault, "KEY-1", created.Version.ToUpperInvariant()).Modulus);
        Assert.Equal(new Uri($"https://127.0.0.1:20000/keys/Key-1/{created.Version}"), latest.Kid(_vault.VaultUri));
        Assert.Equal([new KeyEvent(KeyEventKind.VersionCreated, "v1", "Key-1", created.Version, null, KeysHarness.Start)], _h.Events);
    }

    [Fact]
    public void Creating_again_adds_a_version_and_the_latest_is_the_newest()
    {
        var first = _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        var second = _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        Assert.Equal(second.Version, _h.Service.Get(_vault, "k", "").Version);
        var versions = _h.Service.ListVersions(_vault, "k", 25, null);
        Assert.Equal([first.Version, second.Version], versions.Items.Select(v => v.Version));
        Assert.Null(versions.NextSkipToken);
    }

    [Fact]
    public void Unknown_key_and_unknown_version_are_not_found()
    {
        _h.ImportPooled(_vault, "k");
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Get(_vault, "nope", null)).Status);
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.Get(_vault, "k", new string('0', 32)));
        Assert.Equal((404, "KeyNotFound"), (e.Status, e.Code));
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Get(_vault, "k", "not-a-version")).Status);
    }

    [Fact]
    public void Keys_of_one_vault_are_invisible_in_another()
    {
        _h.ImportPooled(_vault, "k");
        var other = KeysHarness.Vault("v2", port: 20001);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Get(other, "k", null)).Status);
        Assert.Empty(_h.Service.List(other, 25, null).Items);
    }

    [Fact]
    public void List_pages_by_name_with_an_opaque_skip_token()
    {
        foreach (var name in new[] { "c", "A", "b" })
        {
            _h.ImportPooled(_vault, name);
        }

        var first = _h.Service.List(_vault, 2, null);
        Assert.Equal(["A", "b"], first.Items.Select(k => k.Name));
        Assert.NotNull(first.NextSkipToken);
        var second = _h.Service.List(_vault, 2, first.NextSkipToken);
        Assert.Equal(["c"], second.Items.Select(k => k.Name));
        Assert.Null(second.NextSkipToken);

        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.List(_vault, 26, null)).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.List(_vault, 0, null)).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.List(_vault, 5, "!!garbage")).Status);
    }

    [Theory]
    [InlineData("bad_name")]
    [InlineData("")]
    [InlineData("a.b")]
    public void Invalid_names_are_refused_with_BadParameter_and_nothing_is_stored(string name)
    {
        var before = _h.Snapshot();
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.Create(_vault, name, KeysHarness.Rsa()));
        Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
        Assert.Equal(before, _h.Snapshot());
    }

    [Fact]
    public void A_name_of_127_characters_is_accepted_and_128_is_not()
    {
        _h.Service.Create(_vault, new string('a', 127), KeysHarness.Rsa());
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.Create(_vault, new string('a', 128), KeysHarness.Rsa())).Status);
    }

    [Fact]
    public void Bad_create_requests_are_refused_and_change_nothing()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var before = _h.Snapshot();
        var tooManyTags = Enumerable.Range(0, 16).ToDictionary(i => $"t{i}", i => "v");
        var bad = new Action[]
        {
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(1024)),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(2049)),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(kty: "EC")),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(keyOps: ["wrapKey", "fly"])),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(tags: tooManyTags)),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(tags: new Dictionary<string, string> { [new string('t', 513)] = "v" })),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(tags: new Dictionary<string, string> { ["t"] = new string('v', 257) })),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(attributes: new NewKeyAttributes(null, KeysHarness.Start.AddDays(2), KeysHarness.Start.AddDays(1), null))),
            () => _h.Service.Create(_vault, "k", new CreateKeyRequest(KeyTypes.Rsa, 2048, 17, null, null, null)),
            () => _h.Service.Create(_vault, "k", KeysHarness.Rsa(attributes: new NewKeyAttributes(null, null, null, true))),
        };
        foreach (var call in bad)
        {
            var e = Assert.Throws<KeyVaultException>(call);
            Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
        }

        Assert.Equal(before, _h.Snapshot());
    }

    [Fact]
    public void Rsa_hsm_is_refused_without_an_hsm_and_in_a_standard_vault()
    {
        var standard = Assert.Throws<KeyVaultException>(() => _h.Service.Create(_vault, "h", KeysHarness.Rsa(kty: KeyTypes.RsaHsm)));
        Assert.Equal(400, standard.Status);
        Assert.Contains("premium", standard.Message, StringComparison.Ordinal);
        var premium = KeysHarness.Vault("p1", sku: "premium", port: 20001);
        var noHsm = Assert.Throws<KeyVaultException>(() => _h.Service.Create(premium, "h", KeysHarness.Rsa(kty: KeyTypes.RsaHsm)));
        Assert.Equal((400, "BadParameter"), (noHsm.Status, noHsm.Code));
        Assert.Contains("RSA-HSM keys need a premium vault with an HSM", noHsm.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_changes_one_version_and_publishes_disabled_then_updated()
    {
        var first = _h.Service.Create(_vault, "k", KeysHarness.Rsa(tags: new Dictionary<string, string> { ["a"] = "1" }));
        var second = _h.ImportPooled(_vault, "k", 1);
        _h.Events.Clear();
        _h.Time.Advance(TimeSpan.FromMinutes(1));
        var exp = KeysHarness.Start.AddDays(30);
        var updated = _h.Service.Update(_vault, "k", first.Version, new UpdateKeyRequest(false, null, exp, ["wrapKey", "UNWRAPKEY"], new Dictionary<string, string> { ["b"] = "2" }));
        Assert.False(updated.Attributes.Enabled);
        Assert.Equal(exp, updated.Attributes.Expires);
        Assert.Equal(["wrapKey", "unwrapKey"], updated.KeyOps);
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2" }, updated.Tags);
        Assert.Equal(KeysHarness.Start.AddMinutes(1), updated.Attributes.Updated);
        Assert.Equal(KeysHarness.Start, updated.Attributes.Created);
        Assert.True(_h.Service.Get(_vault, "k", second.Version).Attributes.Enabled);
        Assert.Equal([KeyEventKind.Disabled, KeyEventKind.Updated], _h.Events.Select(e => e.Kind));
        Assert.All(_h.Events, e => Assert.Equal(first.Version, e.KeyVersion));

        _h.Events.Clear();
        var latest = _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(false, null, null, null, null));
        Assert.Equal(second.Version, latest.Version);
        Assert.Equal([KeyEventKind.Disabled], _h.Events.Select(e => e.Kind));
        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(true, null, null, null, null));
        Assert.Equal(KeyEventKind.Enabled, _h.Events[^1].Kind);
    }

    [Fact]
    public void Delete_hides_the_key_shows_it_deleted_and_recover_brings_it_back()
    {
        var created = _h.ImportPooled(_vault, "k");
        _h.Time.Advance(TimeSpan.FromHours(1));
        var deleted = _h.Service.Delete(_vault, "K");
        Assert.Equal(created.Version, deleted.Key.Version);
        Assert.Equal(_h.Time.GetUtcNow(), deleted.DeletedDate);
        Assert.Equal(_h.Time.GetUtcNow().AddDays(7), deleted.ScheduledPurgeDate);

        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Get(_vault, "k", null)).Status);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Get(_vault, "k", created.Version)).Status);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32])).Status);
        Assert.Empty(_h.Service.List(_vault, 25, null).Items);
        Assert.Equal(deleted, _h.Service.GetDeleted(_vault, "k") with { Key = deleted.Key });
        Assert.Equal(["k"], _h.Service.ListDeleted(_vault, 25, null).Items.Select(d => d.Key.Name));
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Delete(_vault, "k")).Status);

        var conflict = Assert.Throws<KeyVaultException>(() => _h.Service.Create(_vault, "K", KeysHarness.Rsa()));
        Assert.Equal((409, "Conflict", "ObjectIsDeletedButRecoverable"), (conflict.Status, conflict.Code, conflict.InnerCode));
        Assert.Equal(
            "Key K is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.",
            conflict.Message);

        var recovered = _h.Service.Recover(_vault, "k");
        Assert.Equal(created.Version, recovered.Version);
        Assert.Equal(created.Version, _h.Service.Get(_vault, "k", null).Version);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.GetDeleted(_vault, "k")).Status);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Recover(_vault, "k")).Status);
        Assert.Equal([KeyEventKind.VersionCreated, KeyEventKind.Deleted, KeyEventKind.Recovered], _h.Events.Select(e => e.Kind));
    }

    [Fact]
    public void Purge_without_purge_protection_removes_the_key_for_good()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Purge(_vault, "k")).Status);
        _h.Service.Delete(_vault, "k");
        _h.Service.Purge(_vault, "k");
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.GetDeleted(_vault, "k")).Status);
        Assert.Equal(string.Empty, _h.Snapshot());
        Assert.Equal(KeyEventKind.Purged, _h.Events[^1].Kind);
        var again = _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        Assert.Single(_h.Service.ListVersions(_vault, "k", 25, null).Items);
        Assert.Equal(again.Version, _h.Service.Get(_vault, "k", null).Version);
    }

    [Fact]
    public void Purge_protection_refuses_purge_until_the_retention_has_passed()
    {
        var protectedVault = KeysHarness.Vault(retentionDays: 7, purgeProtection: true);
        _h.ImportPooled(protectedVault, "k");
        _h.Service.Delete(protectedVault, "k");
        _h.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromSeconds(1));
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.Purge(protectedVault, "k"));
        Assert.Equal((403, "Forbidden", "PurgeProtected"), (e.Status, e.Code, e.InnerCode));
        _h.Service.GetDeleted(protectedVault, "k");
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        _h.Service.Purge(protectedVault, "k");
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.GetDeleted(protectedVault, "k")).Status);
    }

    [Fact]
    public void Keys_survive_a_restart()
    {
        var created = _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value;
        _h.Restart();
        Assert.Equal(created.Modulus, _h.Service.Get(_vault, "k", null).Modulus);
        Assert.Equal(new byte[32], _h.Service.UnwrapKey(_vault, "k", created.Version, KeyAlgorithms.RsaOaep256, wrapped).Value);
    }

    [Fact]
    public void A_4096_bit_key_is_created_and_works_with_its_own_size_limits()
    {
        var key = _h.Service.Create(_vault, "big", KeysHarness.Rsa(4096));
        Assert.Equal((4096, 512), (key.KeySize, key.Modulus.Length));
        var wrapped = _h.Service.WrapKey(_vault, "big", null, KeyAlgorithms.RsaOaep256, new byte[446]).Value;
        Assert.Equal(512, wrapped.Length);
        Assert.Equal(446, _h.Service.UnwrapKey(_vault, "big", null, KeyAlgorithms.RsaOaep256, wrapped).Value.Length);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.WrapKey(_vault, "big", null, KeyAlgorithms.RsaOaep256, new byte[447])).Status);
        var digest = new byte[64];
        Assert.True(_h.Service.Verify(_vault, "big", null, KeyAlgorithms.PS512, digest, _h.Service.Sign(_vault, "big", null, KeyAlgorithms.PS512, digest).Value).Valid);
    }

    [Fact]
    public void Versions_page_oldest_first()
    {
        var versions = Enumerable.Range(0, 3).Select(i => _h.ImportPooled(_vault, "k", i).Version).ToList();
        var first = _h.Service.ListVersions(_vault, "k", 2, null);
        Assert.Equal(versions[..2], first.Items.Select(v => v.Version));
        var second = _h.Service.ListVersions(_vault, "k", 2, first.NextSkipToken);
        Assert.Equal(versions[2..], second.Items.Select(v => v.Version));
        Assert.Null(second.NextSkipToken);
        _h.ImportPooled(_vault, "l");
        var nameToken = _h.Service.List(_vault, 1, null).NextSkipToken;
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.ListVersions(_vault, "k", 2, nameToken)).Status);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.ListVersions(_vault, "missing", 2, null)).Status);
    }

    [Fact]
    public void Recovery_level_and_days_follow_the_vault()
    {
        Assert.Equal("Recoverable+Purgeable", KeyRecovery.Level(KeysHarness.Vault()));
        Assert.Equal("Recoverable", KeyRecovery.Level(KeysHarness.Vault(purgeProtection: true)));
        Assert.Equal("CustomizedRecoverable+Purgeable", KeyRecovery.Level(KeysHarness.Vault(retentionDays: 30)));
        Assert.Equal("CustomizedRecoverable", KeyRecovery.Level(KeysHarness.Vault(retentionDays: 7, purgeProtection: true)));
        Assert.Equal(30, KeyRecovery.Days(KeysHarness.Vault(retentionDays: 30)));
    }

    public void Dispose() => _h.Dispose();
}
