// A VaultsProvider over a real SQLite metadata database in a temporary directory, with a fake clock,
// and helpers that build ProviderRequests the way the ARM edge will. Restart() drops the provider and
// store and opens new ones over the same database file, as a server restart does.
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;
using Ironclad.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Ironclad.Vaults.Tests;

internal sealed class VaultsHarness : IDisposable
{
    public static readonly Guid Subscription = Guid.Parse("00000000-0000-0000-0000-000000000001");
    public static readonly Guid OtherSubscription = Guid.Parse("00000000-0000-0000-0000-000000000002");
    public static readonly Guid Tenant = Guid.Parse("00000000-0000-0000-0000-0000000000aa");
    public static readonly Guid Admin = Guid.Parse("11111111-1111-1111-1111-111111111111");
    public static readonly Uri BaseUri = new("https://127.0.0.1:8443/");

    private readonly TempDirectory _directory = new("ironclad-vaults");

    public VaultsHarness(VaultPortRange? ports = null)
    {
        Ports = ports ?? new VaultPortRange(20000, 20099);
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
        Open();
    }

    public VaultPortRange Ports { get; }

    public FakeTimeProvider Time { get; }

    public VaultsProvider Provider { get; private set; } = null!;

    public IVaultStore Store { get; private set; } = null!;

    public List<VaultEvent> Events { get; } = [];

    public string DatabasePath => _directory.Combine("metadata.db");

    public void Restart() => Open();

    private void Open()
    {
        var database = MetadataDatabase.Open(DatabasePath);
        Store = new SqliteVaultStore(database);
        var hub = new VaultEventHub();
        hub.Subscribe(Events.Add);
        Provider = new VaultsProvider(Store, Ports, Time, hub);
    }

    public static CallerIdentity Caller => new(Tenant, Admin, Guid.Parse("22222222-2222-2222-2222-222222222222"), "https://management.azure.com", PrincipalType.ServicePrincipal);

    public static ProviderRequest Request(
        string method, string? resourceGroup, string path, string? body = null, Guid? subscription = null, IReadOnlyDictionary<string, string>? query = null)
    {
        var sub = subscription ?? Subscription;
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var scope = resourceGroup is null
            ? $"/subscriptions/{sub}/providers/Microsoft.KeyVault/{path}"
            : $"/subscriptions/{sub}/resourceGroups/{resourceGroup}/providers/Microsoft.KeyVault/{path}";
        var allQuery = new Dictionary<string, string>(query ?? new Dictionary<string, string>()) { ["api-version"] = "2026-02-01" };
        JsonElement? element = body is null ? null : JsonDocument.Parse(body).RootElement.Clone();
        return new ProviderRequest(method, sub, resourceGroup, segments, scope, allQuery, element, Caller, "2026-02-01", BaseUri);
    }

    public ProviderResult Send(string method, string? resourceGroup, string path, string? body = null, Guid? subscription = null, IReadOnlyDictionary<string, string>? query = null)
    {
        var request = Request(method, resourceGroup, path, body, subscription, query);
        _ = Provider.RequiredAction(request);
        return Provider.Handle(request);
    }

    public ArmException Fails(string method, string? resourceGroup, string path, string? body = null, Guid? subscription = null) =>
        Assert.Throws<ArmException>(() => Send(method, resourceGroup, path, body, subscription));

    /// <summary>A complete PUT body with every property set.</summary>
    public static string FullBody(
        string location = "eastus", int retentionDays = 30, bool purgeProtection = true, string extraProperties = "", string tags = """{"env":"test"}""") => $$$"""
        {"location":"{{{location}}}","tags":{{{tags}}},
         "properties":{"tenantId":"{{{Tenant}}}","sku":{"family":"A","name":"premium"},
           "accessPolicies":[{"tenantId":"{{{Tenant}}}","objectId":"{{{Admin}}}","permissions":{"keys":["get","wrapKey","unwrapKey"],"secrets":["get"],"certificates":[],"storage":[]}}],
           "enabledForDeployment":true,"enabledForDiskEncryption":true,"enabledForTemplateDeployment":true,
           "enableSoftDelete":true,"softDeleteRetentionInDays":{{{retentionDays}}},"enablePurgeProtection":{{{(purgeProtection ? "true" : "false")}}},
           "enableRbacAuthorization":false,"publicNetworkAccess":"Enabled",
           "networkAcls":{"bypass":"AzureServices","defaultAction":"Allow","ipRules":[],"virtualNetworkRules":[]},
           "createMode":"default"{{{extraProperties}}}}}
        """;

    public static string MinimalBody(string location = "eastus") => $$$"""
        {"location":"{{{location}}}","properties":{"tenantId":"{{{Tenant}}}","sku":{"family":"A","name":"standard"} } }
        """;

    public JsonObject Create(string resourceGroup, string name, string? body = null, Guid? subscription = null)
    {
        var result = Send("PUT", resourceGroup, $"vaults/{name}", body ?? MinimalBody(), subscription);
        Assert.Equal(201, result.StatusCode);
        return (JsonObject)result.Body!;
    }

    public JsonObject Get(string resourceGroup, string name)
    {
        var result = Send("GET", resourceGroup, $"vaults/{name}");
        Assert.Equal(200, result.StatusCode);
        return (JsonObject)result.Body!;
    }

    /// <summary>Everything the store holds, as text: to prove a refused request changed nothing.</summary>
    public string Snapshot() =>
        string.Join("\n", Store.List(null, null, deleted: false).Concat(Store.List(null, null, deleted: true))
            .Select(v => $"{v.Name}|{v.ResourceGroup}|{v.Location}|{v.Port}|{v.Tags.ToJsonString()}|{v.Properties.ToJsonString()}|{v.DeletedAt}|{v.Version}"));

    public void Dispose() => _directory.Dispose();
}
