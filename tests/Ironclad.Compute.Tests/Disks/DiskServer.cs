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

    /// <summary>
    /// Stops the server and starts it again on the same data directory (what persists across restarts);
    /// <paramref name="whileStopped"/> runs in between (e.g. a plaintext scan of the whole data directory).
    /// </summary>
    public async Task RestartAsync(Action? whileStopped = null)
    {
        var old = Server;
        _server = null;
        await old.StopAsync();
        await old.DisposeAsync();
        whileStopped?.Invoke();
        _server = await IroncladServer.StartAsync(DataDirectory, ["--vault-ports", VaultPorts], cancellationToken: TestContext.Current.CancellationToken);
    }

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

    public async Task<string> TokenAsync(string scope = ManagementScope, (string ClientId, string Secret)? client = null)
    {
        using var http = Server.CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client?.ClientId ?? Field("clientId"),
            ["client_secret"] = client?.Secret ?? Field("clientSecret"),
            ["scope"] = scope,
        }), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>One ARM call as the administrator: status and body (null when empty).</summary>
    public async Task<(int Status, JsonElement? Body)> ArmAsync(HttpMethod method, string pathAndQuery, JsonNode? body = null, (string ClientId, string Secret)? client = null)
    {
        var token = await TokenAsync(client: client);
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

    /// <summary>A new service principal of the bootstrap tenant (no roles): its object id and credentials.</summary>
    public async Task<(string ObjectId, string ClientId, string Secret)> CreatePrincipalAsync(string displayName)
    {
        var created = await ArmOkAsync(HttpMethod.Post, $"/{TenantId}/ironclad/servicePrincipals", new JsonObject { ["displayName"] = displayName }, expected: 201);
        return (created.GetProperty("id").GetString()!, created.GetProperty("appId").GetString()!,
            created.GetProperty("passwordCredentials")[0].GetProperty("secretText").GetString()!);
    }

    /// <summary>Assigns a built-in role (by its GUID) to a principal at a scope.</summary>
    public Task AssignRoleAsync(string scope, string principalId, string roleId) =>
        ArmOkAsync(HttpMethod.Put, $"{scope}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?api-version=2022-04-01", new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["roleDefinitionId"] = $"/subscriptions/{SubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{roleId}",
                ["principalId"] = principalId,
                ["principalType"] = "ServicePrincipal",
            },
        });

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
    public async Task<(string VaultId, Uri VaultUri)> CreateVaultAsync(string group, string name, string location = Location)
    {
        var token = await TokenAsync();
        var adminObjectId = Claim(token, "oid");
        var id = $"{GroupPath(group)}/providers/Microsoft.KeyVault/vaults/{name}";
        var vault = await ArmOkAsync(HttpMethod.Put, $"{id}?api-version=2024-11-01", new JsonObject
        {
            ["location"] = location,
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
        string group, string name, string vaultId, string keyUrl, string encryptionType = CustomerKey, bool grant = true, string location = Location)
    {
        var set = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "diskEncryptionSets", name)}?{DiskApi}", new JsonObject
        {
            ["location"] = location,
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

    /// <summary>An Upload disk of 32 MiB + 512 written through a Write SAS at <paramref name="writes"/>, then endGetAccess (Unattached).</summary>
    public async Task<JsonElement> UploadDiskAsync(string group, string name, IReadOnlyList<(long Offset, byte[] Data)> writes, string? setId = null)
    {
        var properties = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "Upload", ["uploadSizeBytes"] = (32L << 20) + 512 } };
        if (setId is not null)
        {
            properties["encryption"] = new JsonObject { ["diskEncryptionSetId"] = setId };
        }

        var path = ComputePath(group, "disks", name);
        await ArmOkAsync(HttpMethod.Put, $"{path}?{DiskApi}", new JsonObject { ["location"] = Location, ["properties"] = properties }, expected: 201);
        var sas = await GrantAsync(path, "Write");
        using var blob = CaTrust.CreateHttpClient(Server.Endpoints.CaCertificate, Server.Endpoints.Url);
        foreach (var (offset, data) in writes)
        {
            var pageUri = new Uri(sas + (sas.Query.Length > 0 ? "&" : "?") + "comp=page");
            using var request = new HttpRequestMessage(HttpMethod.Put, pageUri) { Content = new ByteArrayContent(data) };
            request.Headers.TryAddWithoutValidation("x-ms-range", $"bytes={offset}-{offset + data.Length - 1}");
            request.Headers.TryAddWithoutValidation("x-ms-page-write", "update");
            request.Headers.TryAddWithoutValidation("x-ms-version", "2021-08-06");
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await blob.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.True((int)response.StatusCode == 201, $"Put Page {offset}+{data.Length} on {name} answered {(int)response.StatusCode}");
        }

        await ArmOkAsync(HttpMethod.Post, $"{path}/endGetAccess?{DiskApi}", expected: 200);
        return await ArmOkAsync(HttpMethod.Get, $"{path}?{DiskApi}", expected: 200);
    }

    /// <summary>Reads the ranges of <paramref name="writes"/> back through a Read SAS of a disk or snapshot and checks each one.</summary>
    public async Task AssertDataAsync(string resourceId, IReadOnlyList<(long Offset, byte[] Data)> writes)
    {
        var sas = await GrantAsync(resourceId, "Read");
        using var blob = CaTrust.CreateHttpClient(Server.Endpoints.CaCertificate, Server.Endpoints.Url);
        foreach (var (offset, data) in writes)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, sas);
            request.Headers.TryAddWithoutValidation("x-ms-range", $"bytes={offset}-{offset + data.Length - 1}");
            using var response = await blob.SendAsync(request, TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
            Assert.True((int)response.StatusCode is 200 or 206, $"ranged GET on {resourceId} answered {(int)response.StatusCode}");
            Assert.True(data.AsSpan().SequenceEqual(body), $"{resourceId}: the {data.Length} bytes at {offset} differ from what was written");
        }

        await ArmOkAsync(HttpMethod.Post, $"{resourceId}/endGetAccess?{DiskApi}", expected: 200);
    }

    /// <summary>beginGetAccess that must succeed; the URL is a secret and is never printed.</summary>
    public async Task<Uri> GrantAsync(string resourceId, string access)
    {
        var (status, body) = await ArmAsync(HttpMethod.Post, $"{resourceId}/beginGetAccess?{DiskApi}", new JsonObject { ["access"] = access, ["durationInSeconds"] = 600 });
        Assert.True(status == 200, $"beginGetAccess {access} on {resourceId} answered {status}: {(status == 200 ? "" : body?.ToString())}");
        return new Uri(body!.Value.GetProperty("accessSAS").GetString()!);
    }

    /// <summary>Seeded random writes (seed printed by the caller on failure): 64 KiB at 0, 4 KiB at 1 MiB + 512, 512 B near the end.</summary>
    public static List<(long Offset, byte[] Data)> Writes(int seed)
    {
        var random = new Random(seed);
        var result = new List<(long, byte[])>();
        foreach (var (offset, length) in new[] { (0L, 64 << 10), ((1L << 20) + 512, 4096), ((32L << 20) - 1024, 512) })
        {
            var data = new byte[length];
            random.NextBytes(data);
            result.Add((offset, data));
        }

        return result;
    }

    /// <summary>All wrapped-DEK rows in the database (to prove a refused request stored none).</summary>
    public long DataKeyRowCount()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(DataDirectory, "metadata.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM compute_data_keys";
        return (long)command.ExecuteScalar()!;
    }

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
