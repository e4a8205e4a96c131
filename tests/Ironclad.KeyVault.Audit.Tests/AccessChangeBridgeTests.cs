// AccessChangeBridge over the real vault provider and role-assignment service (real SQLite in a temp
// dir): policy entries removed or reduced, PUT replacing policies, permission-model switches, vault
// deletion, and role assignments deleted at or above vaults become key events naming the principal.
using System.Text.Json;
using Ironclad.Identity;
using Ironclad.KeyVault.Events;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;
using Ironclad.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Ironclad.KeyVault.Audit.Tests;

public sealed class AccessChangeBridgeTests : IDisposable
{
    private static readonly Guid Tenant = Guid.Parse("00000000-0000-0000-0000-0000000000aa");
    private static readonly Guid Sub = Guid.Parse("00000000-0000-0000-0000-000000000001");
    private static readonly Guid Admin = Guid.Parse("11111111-1111-1111-1111-111111111111");
    private static readonly Guid Des = Guid.Parse("33333333-3333-3333-3333-333333333333");
    private static readonly Guid Other = Guid.Parse("44444444-4444-4444-4444-444444444444");

    private readonly TempDirectory _dir = new("ironclad-bridge");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private readonly VaultsProvider _vaults;
    private readonly RoleAssignmentService _assignments;
    private readonly AccessChangeBridge _bridge;
    private readonly List<KeyEvent> _events = [];

    public AccessChangeBridgeTests()
    {
        var database = MetadataDatabase.Open(_dir.Combine("metadata.db"));
        var store = new SqliteResourceManagerStore(database);
        var roles = new RoleDefinitions(store);
        _assignments = new RoleAssignmentService(store, roles, _time);
        var vaultEvents = new VaultEventHub();
        _vaults = new VaultsProvider(new SqliteVaultStore(database), new VaultPortRange(21000, 21099), _time, vaultEvents);
        var groups = new ResourceGroupService(store, new ProviderRegistry([_vaults]));
        new ResourceManagerBootstrap(store, _time).EnsureSubscription(Tenant, Sub, "Ironclad", Admin);
        groups.CreateOrUpdate(Sub, "rg1", "eastus", null, null);
        groups.CreateOrUpdate(Sub, "rg2", "eastus", null, null);
        var hub = new KeyEventHub();
        hub.Subscribe(_events.Add);
        _bridge = new AccessChangeBridge(vaultEvents, _assignments, _vaults, hub, _time);
    }

    public void Dispose()
    {
        _bridge.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    [Fact]
    public void Removing_an_entry_publishes_AccessPolicyRemoved_for_its_principal()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get", "wrapKey", "unwrapKey"), Policy(Des, "get", "wrapKey", "unwrapKey"));
        _events.Clear();

        Send("PUT", "rg1", "vaults/kv1/accessPolicies/remove", PoliciesBody(Policy(Des, "get", "wrapKey", "unwrapKey")));

        var published = Assert.Single(_events);
        Assert.Equal(new KeyEvent(KeyEventKind.AccessPolicyRemoved, "kv1", null, null, Des, _time.GetUtcNow()), published);
    }

    [Fact]
    public void Reducing_key_permissions_publishes_but_adding_or_touching_secrets_does_not()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get", "wrapKey", "unwrapKey"), Policy(Des, "get", "wrapKey", "unwrapKey"));
        _events.Clear();

        Send("PUT", "rg1", "vaults/kv1/accessPolicies/add", PoliciesBody(Policy(Other, "get")));
        Send("PUT", "rg1", "vaults/kv1/accessPolicies/add", PoliciesBody(Policy(Des, "sign")));
        Assert.Empty(_events);

        Send("PUT", "rg1", "vaults/kv1/accessPolicies/remove", PoliciesBody(Policy(Des, "unwrapKey")));
        Assert.Equal([Des], _events.Select(e => e.PrincipalId));
        Assert.All(_events, e => Assert.Equal(KeyEventKind.AccessPolicyRemoved, e.Kind));
    }

    [Fact]
    public void A_vault_put_that_replaces_the_policies_counts()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get"), Policy(Des, "get", "unwrapKey"));
        _events.Clear();

        Send("PUT", "rg1", "vaults/kv1", VaultBody(rbac: false, Policy(Admin, "get")));

        Assert.Equal([Des], _events.Select(e => e.PrincipalId));
    }

    [Fact]
    public void Switching_to_rbac_takes_every_policy_away_and_back_takes_every_role_away()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get"), Policy(Des, "unwrapKey"));
        _events.Clear();

        Send("PUT", "rg1", "vaults/kv1", VaultBody(rbac: true, Policy(Admin, "get"), Policy(Des, "unwrapKey")));
        Assert.Equal([Admin, Des], _events.Select(e => e.PrincipalId));
        Assert.All(_events, e => Assert.Equal(KeyEventKind.AccessPolicyRemoved, e.Kind));

        _events.Clear();
        Send("PUT", "rg1", "vaults/kv1", VaultBody(rbac: false, Policy(Admin, "get"), Policy(Des, "unwrapKey")));
        var published = Assert.Single(_events);
        Assert.Equal(KeyEventKind.RoleAssignmentRemoved, published.Kind);
        Assert.Null(published.PrincipalId);
    }

    [Fact]
    public void Deleting_a_vault_publishes_Deleted_for_all_its_keys()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get"));
        _events.Clear();

        Send("DELETE", "rg1", "vaults/kv1");

        Assert.Equal([new KeyEvent(KeyEventKind.Deleted, "kv1", null, null, null, _time.GetUtcNow())], _events);
    }

    [Fact]
    public void Deleting_a_role_assignment_publishes_for_every_vault_at_or_below_its_scope()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get"));
        CreateVault("rg1", "kv2", Policy(Admin, "get"));
        CreateVault("rg2", "kv3", Policy(Admin, "get"));
        var groupScope = ResourceId.ForResourceGroup(Sub, "rg1");
        var vaultScope = ResourceId.Parse(VaultIds.VaultId(Sub, "rg2", "kv3"));
        var atGroup = _assignments.Create(groupScope, Guid.NewGuid(), BuiltInRoles.KeyVaultCryptoServiceEncryptionUserId, Des, null, null, Admin).Assignment;
        var atVault = _assignments.Create(vaultScope, Guid.NewGuid(), BuiltInRoles.KeyVaultCryptoServiceEncryptionUserId, Other, null, null, Admin).Assignment;
        _events.Clear();

        Assert.NotNull(_assignments.Delete(groupScope, atGroup.Name));
        Assert.Equal(["kv1", "kv2"], _events.Select(e => e.Vault).Order(StringComparer.Ordinal));
        Assert.All(_events, e => Assert.Equal((KeyEventKind.RoleAssignmentRemoved, (Guid?)Des), (e.Kind, e.PrincipalId)));

        _events.Clear();
        Assert.NotNull(_assignments.Delete(vaultScope, atVault.Name));
        Assert.Equal([new KeyEvent(KeyEventKind.RoleAssignmentRemoved, "kv3", null, null, Other, _time.GetUtcNow())], _events);
    }

    [Fact]
    public void Deleting_a_subscription_level_assignment_reaches_every_active_vault_and_a_miss_publishes_nothing()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get"));
        CreateVault("rg2", "kv3", Policy(Admin, "get"));
        var scope = ResourceId.ForSubscription(Sub);
        var assignment = _assignments.Create(scope, Guid.NewGuid(), BuiltInRoles.ReaderId, Des, null, null, Admin).Assignment;
        _events.Clear();

        Assert.Null(_assignments.Delete(scope, Guid.NewGuid()));
        Assert.Empty(_events);

        _assignments.Delete(scope, assignment.Name);
        Assert.Equal(["kv1", "kv3"], _events.Select(e => e.Vault).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void After_dispose_nothing_is_published()
    {
        CreateVault("rg1", "kv1", Policy(Admin, "get"), Policy(Des, "get"));
        _bridge.Dispose();
        _events.Clear();

        Send("PUT", "rg1", "vaults/kv1/accessPolicies/remove", PoliciesBody(Policy(Des, "get")));

        Assert.Empty(_events);
    }

    private static string Policy(Guid objectId, params string[] keys) =>
        "{\"tenantId\":\"" + Tenant + "\",\"objectId\":\"" + objectId + "\",\"permissions\":{\"keys\":["
        + string.Join(',', keys.Select(k => "\"" + k + "\"")) + "],\"secrets\":[],\"certificates\":[],\"storage\":[]}}";

    private static string PoliciesBody(params string[] policies) => "{\"properties\":{\"accessPolicies\":[" + string.Join(',', policies) + "]}}";

    private static string VaultBody(bool rbac, params string[] policies) =>
        "{\"location\":\"eastus\",\"properties\":{\"tenantId\":\"" + Tenant + "\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},"
        + "\"enableRbacAuthorization\":" + (rbac ? "true" : "false") + ",\"accessPolicies\":[" + string.Join(',', policies) + "]}}";

    private void CreateVault(string group, string name, params string[] policies) =>
        Assert.Equal(201, Send("PUT", group, $"vaults/{name}", VaultBody(rbac: false, policies)).StatusCode);

    private ProviderResult Send(string method, string group, string path, string? body = null)
    {
        var caller = new CallerIdentity(Tenant, Admin, Guid.NewGuid(), "https://management.azure.com", PrincipalType.ServicePrincipal);
        var request = new ProviderRequest(method, Sub, group, path.Split('/'), $"/subscriptions/{Sub}/resourceGroups/{group}/providers/Microsoft.KeyVault/{path}",
            new Dictionary<string, string> { ["api-version"] = "2026-02-01" },
            body is null ? null : JsonDocument.Parse(body).RootElement.Clone(), caller, "2026-02-01", new Uri("https://127.0.0.1:8443/"));
        _ = _vaults.RequiredAction(request);
        return _vaults.Handle(request);
    }
}
