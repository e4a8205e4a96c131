// The real server the disk tests drive: one `ironclad server` per test class on a fresh data directory
// (vault ports from the disks range 25200-25249), reached over HTTPS as the bootstrap administrator,
// plus the ARM calls the tests repeat (groups, vaults, keys, sets, access policies) and a read-only
// look at metadata.db (the wrapped-DEK rows: counted and compared, never printed).
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.Tests.Disks;

public abstract class DiskServer : IAsyncLifetime
{
    public const string ManagementScope = "https://management.azure.com/.default";
    public const string VaultScope = "https://vault.azure.net/.default";
    public const string DiskApi = "api-version=2026-03-02";
    public const string ImageApi = "api-version=2026-04-01";
    public const string Location = "eastus";
    public const string PlatformKey = "EncryptionAtRestWithPlatformKey";
    public const string CustomerKey = "EncryptionAtRestWithCustomerKey";
    public const string DoubleKeys = "EncryptionAtRestWithPlatformAndCustomerKeys";

    private readonly TempDirectory _directory = new("ironclad-disk-tests");
    private IroncladServer? _server;

    /// <summary>The vault ports of this fixture: a sub-range of 25200-25249, one per fixture class.</summary>
    protected abstract string VaultPorts { get; }

    public IroncladServer Server => _server ?? throw new InvalidOperationException("The server has not started.");

    public string DataDirectory => _directory.Combine("data");

    public string SubscriptionId => Field("subscriptionId");

    public string TenantId => Field("tenantId");

    public async ValueTask InitializeAsync() =>
        _server = await IroncladServer.StartAsync(DataDirectory, ["--vault-ports", VaultPorts], cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }

        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    public async Task<string> TokenAsync(string scope = ManagementScope)
    {
        using var http = Server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = Field("clientId"),
            ["client_secret"] = Field("clientSecret"),
            ["scope"] = scope,
        }), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>One ARM call as the administrator: status and body (null when empty).</summary>
    public async Task<(int Status, JsonElement? Body)> ArmAsync(HttpMethod method, string pathAndQuery, JsonNode? body = null)
    {
        var token = await TokenAsync();
        using var http = Server.CreateHttpClient();
        http.Timeout = TimeSpan.FromMinutes(5);
        using var request = new HttpRequestMessage(method, pathAndQuery);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>An ARM call that must answer <paramref name="expected"/> (any 2xx when null); returns the body.</summary>
    public async Task<JsonElement> ArmOkAsync(HttpMethod method, string pathAndQuery, JsonNode? body = null, int? expected = null)
    {
        var (status, result) = await ArmAsync(method, pathAndQuery, body);
        Assert.True(expected is { } e ? status == e : status is >= 200 and < 300, $"{method} {pathAndQuery} answered {status}: {result}");
        return result ?? default;
    }

    public string GroupPath(string group) => $"/subscriptions/{SubscriptionId}/resourceGroups/{group}";

    public string ComputePath(string group, string type, string name) => $"{GroupPath(group)}/providers/Microsoft.Compute/{type}/{name}";

    public Task CreateGroupAsync(string group, string location = Location) =>
        ArmOkAsync(HttpMethod.Put, $"{GroupPath(group)}?api-version=2025-04-01", new JsonObject { ["location"] = location });

    public static JsonObject EmptyDiskBody(int sizeGb, string? setId = null, string location = Location)
    {
        var properties = new JsonObject
        {
            ["creationData"] = new JsonObject { ["createOption"] = "Empty" },
            ["diskSizeGB"] = sizeGb,
        };
        if (setId is not null)
        {
            properties["encryption"] = new JsonObject { ["diskEncryptionSetId"] = setId };
        }

        return new JsonObject { ["location"] = location, ["sku"] = new JsonObject { ["name"] = "Premium_LRS" }, ["properties"] = properties };
    }

    public static JsonObject CopyBody(string sourceId, JsonObject? encryption = null, bool? incremental = null, int? sizeGb = null)
    {
        var properties = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "Copy", ["sourceResourceId"] = sourceId } };
        if (encryption is not null)
        {
            properties["encryption"] = encryption;
        }

        if (incremental is not null)
        {
            properties["incremental"] = incremental;
        }

        if (sizeGb is not null)
        {
            properties["diskSizeGB"] = sizeGb;
        }

        return new JsonObject { ["location"] = Location, ["properties"] = properties };
    }

    /// <summary>A vault with soft delete and purge protection (what sets require); the administrator may do everything with keys.</summary>
    public async Task<(string VaultId, Uri VaultUri)> CreateVaultAsync(string group, string name)
    {
        var token = await TokenAsync();
        var adminObjectId = Claim(token, "oid");
        var id = $"{GroupPath(group)}/providers/Microsoft.KeyVault/vaults/{name}";
        var vault = await ArmOkAsync(HttpMethod.Put, $"{id}?api-version=2024-11-01", new JsonObject
        {
            ["location"] = Location,
            ["properties"] = new JsonObject
            {
                ["tenantId"] = TenantId,
                ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
                ["enableSoftDelete"] = true,
                ["softDeleteRetentionInDays"] = 7,
                ["enablePurgeProtection"] = true,
                ["accessPolicies"] = new JsonArray(new JsonObject
                {
                    ["tenantId"] = TenantId,
                    ["objectId"] = adminObjectId,
                    ["permissions"] = new JsonObject { ["keys"] = new JsonArray("get", "list", "create", "update", "delete", "wrapKey", "unwrapKey", "rotate") },
                }),
            },
        });
        return (vault.GetProperty("id").GetString()!, new Uri(vault.GetProperty("properties").GetProperty("vaultUri").GetString()!));
    }

    /// <summary>Creates an RSA key through the vault's data plane; returns its kid (versioned).</summary>
    public async Task<string> CreateKeyAsync(Uri vaultUri, string name, int size = 2048)
    {
        var token = await TokenAsync(VaultScope);
        using var http = CaTrust.CreateHttpClient(Server.Endpoints.CaCertificate, vaultUri);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/keys/{name}/create?api-version=7.4")
        {
            Content = new StringContent(new JsonObject { ["kty"] = "RSA", ["key_size"] = size }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"key create answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("key").GetProperty("kid").GetString()!;
    }

    /// <summary>A set with a system-assigned identity; with <paramref name="grant"/> its identity gets get/wrapKey/unwrapKey by access policy.</summary>
    public async Task<(string SetId, string PrincipalId)> CreateSetAsync(
        string group, string name, string vaultId, string keyUrl, string encryptionType = CustomerKey, bool grant = true)
    {
        var set = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "diskEncryptionSets", name)}?{DiskApi}", new JsonObject
        {
            ["location"] = Location,
            ["identity"] = new JsonObject { ["type"] = "SystemAssigned" },
            ["properties"] = new JsonObject
            {
                ["encryptionType"] = encryptionType,
                ["activeKey"] = new JsonObject { ["keyUrl"] = keyUrl, ["sourceVault"] = new JsonObject { ["id"] = vaultId } },
            },
        });
        var principal = set.GetProperty("identity").GetProperty("principalId").GetString()!;
        if (grant)
        {
            await GrantKeyAccessAsync(vaultId, principal);
        }

        return (set.GetProperty("id").GetString()!, principal);
    }

    public Task GrantKeyAccessAsync(string vaultId, string principalId) =>
        ArmOkAsync(HttpMethod.Put, $"{vaultId}/accessPolicies/add?api-version=2024-11-01", new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["accessPolicies"] = new JsonArray(new JsonObject
                {
                    ["tenantId"] = TenantId,
                    ["objectId"] = principalId,
                    ["permissions"] = new JsonObject { ["keys"] = new JsonArray("get", "wrapKey", "unwrapKey") },
                }),
            },
        });

    /// <summary>The wrapped-DEK rows of a volume: (layer, kid, SHA-256 of the wrapped bytes) — enough to compare, nothing secret.</summary>
    public IReadOnlyList<(long Layer, string Kid, string WrappedHash)> DataKeyRows(string volumeId)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(DataDirectory, "metadata.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT layer, kid, wrapped FROM compute_data_keys WHERE volume_id = $volume ORDER BY layer";
        command.Parameters.AddWithValue("$volume", volumeId);
        var rows = new List<(long, string, string)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1), Convert.ToHexString(System.Security.Cryptography.SHA256.HashData((byte[])reader.GetValue(2)))));
        }

        return rows;
    }

    public static string Claim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        return JsonDocument.Parse(Convert.FromBase64String(payload)).RootElement.GetProperty(name).GetString()!;
    }

    private string Field(string name) =>
        Server.Endpoints.Json.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidOperationException($"endpoints.json has no '{name}'.");
}
