// Rotation by hand and by policy, the policy rules, and the maintenance run moved through time with a
// FakeTimeProvider: rotation after creation and before expiry, Expired once per version, purge after
// the retention.
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Tests;

public sealed class RotationTests : IDisposable
{
    private readonly KeysHarness _h = new();
    private readonly VaultRecord _vault = KeysHarness.Vault(retentionDays: 7);

    private static RotationPolicy Policy(string? expiry, params LifetimeAction[] actions) => new(actions, expiry, null, null);

    [Fact]
    public void Rotate_makes_a_new_version_with_the_same_type_size_ops_and_tags()
    {
        var tags = new Dictionary<string, string> { ["team"] = "storage" };
        var first = _h.Service.Create(_vault, "k", KeysHarness.Rsa(3072, [KeyOps.WrapKey, KeyOps.UnwrapKey], tags: tags));
        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(false, null, null, null, null));
        _h.Time.Advance(TimeSpan.FromDays(1));
        var rotated = _h.Service.Rotate(_vault, "K");
        Assert.NotEqual(first.Version, rotated.Version);
        Assert.Equal(3072, rotated.KeySize);
        Assert.Equal([KeyOps.WrapKey, KeyOps.UnwrapKey], rotated.KeyOps);
        Assert.Equal(tags, rotated.Tags);
        Assert.True(rotated.Attributes.Enabled);
        Assert.Null(rotated.Attributes.Expires);
        Assert.Equal(KeysHarness.Start.AddDays(1), rotated.Attributes.Created);
        Assert.NotEqual(first.Modulus, rotated.Modulus);
        Assert.Equal(rotated.Version, _h.Service.Get(_vault, "k", null).Version);
        Assert.Equal(KeyEventKind.VersionCreated, _h.Events[^1].Kind);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.Rotate(_vault, "missing")).Status);
    }

    [Fact]
    public void A_key_without_a_policy_shows_the_cloud_default()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var policy = _h.Service.GetRotationPolicy(_vault, "k");
        Assert.Equal([new LifetimeAction("Notify", null, "P30D")], policy.LifetimeActions);
        Assert.Null(policy.ExpiryTime);
        Assert.Null(policy.Created);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.GetRotationPolicy(_vault, "missing")).Status);
    }

    [Fact]
    public void A_policy_is_stored_normalised_and_its_expiry_applies_to_rotated_versions()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var set = _h.Service.SetRotationPolicy(_vault, "k", Policy("P1Y", new LifetimeAction("rotate", "P90D", null), new LifetimeAction("NOTIFY", null, "P30D")));
        Assert.Equal([new LifetimeAction("Rotate", "P90D", null), new LifetimeAction("Notify", null, "P30D")], set.LifetimeActions);
        Assert.Equal(KeysHarness.Start, set.Created);
        _h.Time.Advance(TimeSpan.FromHours(1));
        var again = _h.Service.SetRotationPolicy(_vault, "k", Policy("P2Y", new LifetimeAction("Rotate", "P1M", null)));
        Assert.Equal(KeysHarness.Start, again.Created);
        Assert.Equal(KeysHarness.Start.AddHours(1), again.Updated);
        AssertSame(again, _h.Service.GetRotationPolicy(_vault, "k"));

        var rotated = _h.Service.Rotate(_vault, "k");
        Assert.Equal(KeysHarness.Start.AddHours(1).AddYears(2), rotated.Attributes.Expires);

        // An empty action list puts the default back.
        Assert.Equal("Notify", _h.Service.SetRotationPolicy(_vault, "k", Policy(null)).LifetimeActions.Single().ActionType);
        Assert.Null(_h.Service.GetRotationPolicy(_vault, "k").Created);
    }

    [Fact]
    public void Policies_breaking_the_cloud_rules_are_refused_and_change_nothing()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        _h.Service.SetRotationPolicy(_vault, "k", Policy("P1Y", new LifetimeAction("Rotate", "P90D", null)));
        var before = _h.Snapshot();
        var bad = new[]
        {
            Policy(null, new LifetimeAction("Rotate", "P6D", null)),
            Policy(null, new LifetimeAction("Rotate", "PT167H", null)),
            Policy(null, new LifetimeAction("Rotate", null, "P30D")),
            Policy(null, new LifetimeAction("Notify", null, "P30D")),
            Policy("P27D", new LifetimeAction("Rotate", "P7D", null)),
            Policy("P60D", new LifetimeAction("Rotate", "P54D", null)),
            Policy("P60D", new LifetimeAction("Rotate", null, "P6D")),
            Policy("P60D", new LifetimeAction("Rotate", null, "P54D")),
            Policy("P1Y", new LifetimeAction("Delete", "P30D", null)),
            Policy("P1Y", new LifetimeAction("Rotate", "P30D", "P30D")),
            Policy("P1Y", new LifetimeAction("Rotate", null, null)),
            Policy("P1Y", new LifetimeAction("Rotate", "P30D", null), new LifetimeAction("Rotate", "P60D", null)),
            Policy("P1Y", new LifetimeAction("Rotate", "30 days", null)),
            Policy("P1X", new LifetimeAction("Rotate", "P30D", null)),
            Policy("P1Y", new LifetimeAction("Rotate", "P", null)),
            Policy("P1Y", new LifetimeAction("Rotate", "P1DT", null)),
            Policy("P1Y", new LifetimeAction("Rotate", "-P30D", null)),
            Policy("P9999Y", new LifetimeAction("Rotate", "P30D", null)),
        };
        foreach (var policy in bad)
        {
            var e = Assert.Throws<KeyVaultException>(() => _h.Service.SetRotationPolicy(_vault, "k", policy));
            Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
        }

        Assert.Equal(before, _h.Snapshot());
        _h.Service.SetRotationPolicy(_vault, "k", Policy("P28D", new LifetimeAction("Rotate", "P3W", null)));
        _h.Service.SetRotationPolicy(_vault, "k", Policy("P60D", new LifetimeAction("Rotate", null, "P7D"), new LifetimeAction("Notify", null, "P53D")));
    }

    [Fact]
    public void Maintenance_rotates_when_time_after_create_has_passed_and_only_then()
    {
        var first = _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        _h.Service.SetRotationPolicy(_vault, "k", Policy("P90D", new LifetimeAction("Rotate", "P30D", null)));
        _h.Time.Advance(TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1));
        Assert.Equal(new KeyMaintenanceReport(0, 0, 0), _h.Service.RunMaintenance([_vault]));
        Assert.Equal(first.Version, _h.Service.Get(_vault, "k", null).Version);

        _h.Time.Advance(TimeSpan.FromSeconds(1));
        _h.Events.Clear();
        Assert.Equal(new KeyMaintenanceReport(1, 0, 0), _h.Service.RunMaintenance([_vault]));
        var latest = _h.Service.Get(_vault, "k", null);
        Assert.NotEqual(first.Version, latest.Version);
        Assert.Equal(_h.Time.GetUtcNow().AddDays(90), latest.Attributes.Expires);
        Assert.Equal([new KeyEvent(KeyEventKind.VersionCreated, "v1", "k", latest.Version, null, _h.Time.GetUtcNow())], _h.Events);
        Assert.Equal(new KeyMaintenanceReport(0, 0, 0), _h.Service.RunMaintenance([_vault]));

        // Another vault's maintenance does not touch this one.
        _h.Time.Advance(TimeSpan.FromDays(31));
        Assert.Equal(new KeyMaintenanceReport(0, 0, 0), _h.Service.RunMaintenance([KeysHarness.Vault("v2", port: 20001)]));
        Assert.Equal(1, _h.Service.RunMaintenance([_vault]).Rotated);
    }

    [Fact]
    public void Maintenance_rotates_before_expiry_and_reports_expiry_once_per_version()
    {
        var first = _h.Service.Create(_vault, "k", KeysHarness.Rsa(attributes: new NewKeyAttributes(null, null, KeysHarness.Start.AddDays(40), null)));
        _h.Service.SetRotationPolicy(_vault, "k", Policy("P60D", new LifetimeAction("Rotate", null, "P10D")));
        _h.Time.Advance(TimeSpan.FromDays(29));
        Assert.Equal(0, _h.Service.RunMaintenance([_vault]).Rotated);
        _h.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(1, _h.Service.RunMaintenance([_vault]).Rotated);
        var second = _h.Service.Get(_vault, "k", null);
        Assert.Equal(_h.Time.GetUtcNow().AddDays(60), second.Attributes.Expires);

        _h.Events.Clear();
        _h.Time.Advance(TimeSpan.FromDays(10));
        Assert.Equal(new KeyMaintenanceReport(0, 1, 0), _h.Service.RunMaintenance([_vault]));
        Assert.Equal([new KeyEvent(KeyEventKind.Expired, "v1", "k", first.Version, null, _h.Time.GetUtcNow())], _h.Events);
        Assert.Equal(0, _h.Service.RunMaintenance([_vault]).Expired);

        // A new exp that passes again is reported again.
        _h.Service.Update(_vault, "k", first.Version, new UpdateKeyRequest(null, null, _h.Time.GetUtcNow().AddDays(1), null, null));
        _h.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(1, _h.Service.RunMaintenance([_vault]).Expired);
    }

    [Fact]
    public void Maintenance_purges_deleted_keys_once_their_retention_has_passed()
    {
        var protectedVault = KeysHarness.Vault(retentionDays: 7, purgeProtection: true);
        _h.Service.Create(protectedVault, "k", KeysHarness.Rsa());
        _h.Service.Delete(protectedVault, "k");
        _h.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1));
        Assert.Equal(0, _h.Service.RunMaintenance([protectedVault]).Purged);
        _h.Service.GetDeleted(protectedVault, "k");
        _h.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, _h.Service.RunMaintenance([]).Purged);
        Assert.Equal(1, _h.Service.RunMaintenance([protectedVault]).Purged);
        Assert.Equal(404, Assert.Throws<KeyVaultException>(() => _h.Service.GetDeleted(protectedVault, "k")).Status);
        Assert.Equal(KeyEventKind.Purged, _h.Events[^1].Kind);
        Assert.Equal(string.Empty, _h.Snapshot());
    }

    [Fact]
    public void Purge_vault_removes_every_key_of_that_vault_only()
    {
        var other = KeysHarness.Vault("v2", port: 20001);
        _h.Service.Create(_vault, "a", KeysHarness.Rsa());
        _h.Service.Create(_vault, "b", KeysHarness.Rsa());
        _h.Service.Delete(_vault, "b");
        _h.Service.Create(other, "a", KeysHarness.Rsa());
        _h.Events.Clear();
        _h.Service.PurgeVault("V1");
        Assert.Empty(_h.Service.List(_vault, 25, null).Items);
        Assert.Empty(_h.Service.ListDeleted(_vault, 25, null).Items);
        Assert.Single(_h.Service.List(other, 25, null).Items);
        Assert.Equal([KeyEventKind.Purged, KeyEventKind.Purged], _h.Events.Select(e => e.Kind));
    }

    internal static void AssertSame(RotationPolicy expected, RotationPolicy actual)
    {
        Assert.Equal(expected.LifetimeActions, actual.LifetimeActions);
        Assert.Equal(expected with { LifetimeActions = [] }, actual with { LifetimeActions = [] });
    }

    public void Dispose() => _h.Dispose();
}
