// A real `ironclad server` for the disk encryption set tests, reached as a client would: plain HTTPS to
// ARM as the bootstrap administrator, and to each vault's own origin for keys (create, rotate, update).
// Each test class gets its own server and its own slice of the sets helper's vault ports (25100-25149).
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.Tests.EncryptionSets;

/// <summary>An ARM or vault answer: the status and the JSON body (null when empty).</summary>
public sealed record ApiResponse(int Status, JsonElement? Body)
{
    public JsonElement Json => Body ?? throw new InvalidOperationException($"HTTP {Status} without a body.");

    public string ErrorCode => Json.GetProperty("error").GetProperty("code").GetString()!;

    public string ErrorMessage => Json.GetProperty("error").GetProperty("message").GetString()!;

    public override string ToString() => $"{Status} {Body}";
}

public sealed class SetsServer : IAsyncDisposable
{
    public const string ArmApi = "api-version=2026-03-02";
    public const string VaultArmApi = "api-version=2026-02-01";
    public const string KeysApi = "api-version=7.4";
    public const string ManagementScope = "https://management.azure.com/.default";
    public const string VaultScope = "https://vault.azure.net/.default";
    public const string Group = "rg-sets";

    private static readonly string[] AllKeyPermissions =
    [
        "get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "encrypt", "decrypt",
        "wrapKey", "unwrapKey", "sign", "verify", "purge", "rotate", "getrotationpolicy", "setrotationpolicy",
    ];

    private readonly TempDirectory _directory;
    private readonly HttpClient _http;
    private string? _armToken;
    private string? _vaultToken;

    private SetsServer(TempDirectory directory, IroncladServer server)
    {
        _directory = directory;
        Server = server;
        _http = server.CreateHttpClient();
    }

    public IroncladServer Server { get; }

    public string DataDirectory => Server.DataDirectory;

    public string TenantId => Field("tenantId");

    public string SubscriptionId => Field("subscriptionId");

    public string GroupId => $"/subscriptions/{SubscriptionId}/resourceGroups/{Group}";

    /// <summary>Starts a server whose vaults take ports <paramref name="firstPort"/>..+9, and creates the resource group.</summary>
    public static async Task<SetsServer> StartAsync(int firstPort, IEnumerable<string>? extraArguments = null, CancellationToken cancellationToken = default)
    {
        var directory = new TempDirectory("ironclad-sets-tests");
        IroncladServer? server = null;
        try
        {
            server = await IroncladServer.StartAsync(directory.Combine("data"),
                ["--vault-ports", $"{firstPort}-{firstPort + 9}", .. extraArguments ?? []], cancellationToken: cancellationToken);
            var sets = new SetsServer(directory, server);
            var group = await sets.ArmAsync(HttpMethod.Put, $"/subscriptions/{sets.SubscriptionId}/resourcegroups/{Group}?api-version=2025-04-01",
                new JsonObject { ["location"] = "eastus" }, cancellationToken);
            Assert.True(group.Status is 200 or 201, $"resource group: {group}");
            return sets;
        }
        catch
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }

            directory.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        _directory.Dispose();
    }

    public string SetPath(string name) => $"{GroupId}/providers/Microsoft.Compute/diskEncryptionSets/{name}?{ArmApi}";

    public string SetId(string name) => $"{GroupId}/providers/Microsoft.Compute/diskEncryptionSets/{name}";

    public string VaultId(string name) => $"{GroupId}/providers/Microsoft.KeyVault/vaults/{name}";

    public async Task<ApiResponse> ArmAsync(HttpMethod method, string pathAndQuery, JsonNode? body = null, CancellationToken cancellationToken = default)
    {
        _armToken ??= await TokenAsync(ManagementScope, cancellationToken);
        return await SendAsync(_http, method, pathAndQuery, _armToken, body, cancellationToken);
    }

    /// <summary>An ARM call that must succeed; returns its body.</summary>
    public async Task<JsonElement> ArmOkAsync(HttpMethod method, string pathAndQuery, JsonNode? body = null, CancellationToken cancellationToken = default)
    {
        var response = await ArmAsync(method, pathAndQuery, body, cancellationToken);
        Assert.True(response.Status is >= 200 and < 300, $"{method} {pathAndQuery} failed: {response}");
        return response.Body ?? default;
    }

    /// <summary>A vault (soft delete always; purge protection unless told otherwise); the administrator gets every key permission.</summary>
    public async Task<(string Id, Uri VaultUri)> CreateVaultAsync(string name, bool purgeProtection = true, string location = "eastus", bool rbac = false,
        CancellationToken cancellationToken = default)
    {
        var admin = Claim(_armToken ??= await TokenAsync(ManagementScope, cancellationToken), "oid");
        var properties = new JsonObject
        {
            ["tenantId"] = TenantId,
            ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
            ["enableSoftDelete"] = true,
            ["softDeleteRetentionInDays"] = 7,
            ["enableRbacAuthorization"] = rbac,
            ["accessPolicies"] = rbac ? new JsonArray() : new JsonArray(Policy(admin, AllKeyPermissions)),
        };
        if (purgeProtection)
        {
            properties["enablePurgeProtection"] = true;
        }

        var vault = await ArmOkAsync(HttpMethod.Put, $"{VaultId(name)}?{VaultArmApi}",
            new JsonObject { ["location"] = location, ["properties"] = properties }, cancellationToken);
        if (rbac)
        {
            await AssignRoleAsync(VaultId(name), admin, "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", cancellationToken);
        }

        return (vault.GetProperty("id").GetString()!, new Uri(vault.GetProperty("properties").GetProperty("vaultUri").GetString()!));
    }

    /// <summary>Adds an access policy entry (PUT .../accessPolicies/add) for <paramref name="objectId"/>.</summary>
    public Task GrantPolicyAsync(string vaultName, string objectId, string[]? keys = null, CancellationToken cancellationToken = default) =>
        ArmOkAsync(HttpMethod.Put, $"{VaultId(vaultName)}/accessPolicies/add?{VaultArmApi}",
            new JsonObject { ["properties"] = new JsonObject { ["accessPolicies"] = new JsonArray(Policy(objectId, keys ?? ["get", "wrapKey", "unwrapKey"])) } },
            cancellationToken);

    public Task RemovePolicyAsync(string vaultName, string objectId, CancellationToken cancellationToken = default) =>
        ArmOkAsync(HttpMethod.Put, $"{VaultId(vaultName)}/accessPolicies/remove?{VaultArmApi}",
            new JsonObject { ["properties"] = new JsonObject { ["accessPolicies"] = new JsonArray(Policy(objectId, [])) } },
            cancellationToken);

    public Task AssignRoleAsync(string scope, string principalId, string roleGuid, CancellationToken cancellationToken = default) =>
        ArmOkAsync(HttpMethod.Put, $"{scope}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}?api-version=2022-04-01",
            new JsonObject
            {
                ["properties"] = new JsonObject
                {
                    ["principalId"] = principalId,
                    ["principalType"] = "ServicePrincipal",
                    ["roleDefinitionId"] = $"/subscriptions/{SubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{roleGuid}",
                },
            },
            cancellationToken);

    /// <summary>A user-assigned identity; returns (id, principalId, clientId).</summary>
    public async Task<(string Id, string PrincipalId, string ClientId)> CreateUserAssignedIdentityAsync(string name, CancellationToken cancellationToken = default)
    {
        var body = await ArmOkAsync(HttpMethod.Put, $"{GroupId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}?api-version=2023-01-31",
            new JsonObject { ["location"] = "eastus" }, cancellationToken);
        var properties = body.GetProperty("properties");
        return (body.GetProperty("id").GetString()!, properties.GetProperty("principalId").GetString()!, properties.GetProperty("clientId").GetString()!);
    }

    /// <summary>Creates an RSA key through the vault's data plane as the administrator; returns its kid.</summary>
    public async Task<string> CreateKeyAsync(Uri vaultUri, string name, int size = 2048, string[]? keyOps = null, bool enabled = true, DateTimeOffset? expires = null,
        CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["kty"] = "RSA", ["key_size"] = size };
        if (keyOps is not null)
        {
            body["key_ops"] = new JsonArray([.. keyOps.Select(o => (JsonNode)o)]);
        }

        var attributes = new JsonObject { ["enabled"] = enabled };
        if (expires is { } exp)
        {
            attributes["exp"] = exp.ToUnixTimeSeconds();
        }

        body["attributes"] = attributes;
        var response = await VaultAsync(vaultUri, HttpMethod.Post, $"/keys/{name}/create?{KeysApi}", body, cancellationToken);
        Assert.True(response.Status == 200, $"key create failed: {response}");
        return response.Json.GetProperty("key").GetProperty("kid").GetString()!;
    }

    /// <summary>POST /keys/{name}/rotate: a new version; returns its kid.</summary>
    public async Task<string> RotateKeyAsync(Uri vaultUri, string name, CancellationToken cancellationToken = default)
    {
        var response = await VaultAsync(vaultUri, HttpMethod.Post, $"/keys/{name}/rotate?{KeysApi}", null, cancellationToken);
        Assert.True(response.Status == 200, $"key rotate failed: {response}");
        return response.Json.GetProperty("key").GetProperty("kid").GetString()!;
    }

    public async Task SetKeyEnabledAsync(string kid, bool enabled, CancellationToken cancellationToken = default)
    {
        var uri = new Uri(kid);
        var response = await VaultAsync(new Uri(uri.GetLeftPart(UriPartial.Authority)), HttpMethod.Patch, $"{uri.AbsolutePath}?{KeysApi}",
            new JsonObject { ["attributes"] = new JsonObject { ["enabled"] = enabled } }, cancellationToken);
        Assert.True(response.Status == 200, $"key update failed: {response}");
    }

    public async Task<ApiResponse> VaultAsync(Uri vaultUri, HttpMethod method, string pathAndQuery, JsonNode? body, CancellationToken cancellationToken = default)
    {
        _vaultToken ??= await TokenAsync(VaultScope, cancellationToken);
        using var http = CaTrust.CreateHttpClient(Server.Endpoints.CaCertificate, vaultUri);
        return await SendAsync(http, method, pathAndQuery, _vaultToken, body, cancellationToken);
    }

    public string DiskPath(string name, string type = "disks") => $"{GroupId}/providers/Microsoft.Compute/{type}/{name}?{ArmApi}";

    /// <summary>An empty 1 GiB disk encrypted through <paramref name="setId"/>; returns (id, uniqueId).</summary>
    public async Task<(string Id, string UniqueId)> CreateDiskAsync(string name, string setId, string encryptionType = "EncryptionAtRestWithCustomerKey",
        CancellationToken cancellationToken = default)
    {
        var disk = await ArmOkAsync(HttpMethod.Put, DiskPath(name), new JsonObject
        {
            ["location"] = "eastus",
            ["sku"] = new JsonObject { ["name"] = "Premium_LRS" },
            ["properties"] = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "Empty" },
                ["diskSizeGB"] = 1,
                ["encryption"] = new JsonObject { ["type"] = encryptionType, ["diskEncryptionSetId"] = setId },
            },
        }, cancellationToken);
        return (disk.GetProperty("id").GetString()!, disk.GetProperty("properties").GetProperty("uniqueId").GetString()!);
    }

    /// <summary>A full snapshot of <paramref name="diskId"/> through the same set; returns its id.</summary>
    public async Task<string> CreateSnapshotAsync(string name, string diskId, string setId, CancellationToken cancellationToken = default)
    {
        var snapshot = await ArmOkAsync(HttpMethod.Put, DiskPath(name, "snapshots"), new JsonObject
        {
            ["location"] = "eastus",
            ["sku"] = new JsonObject { ["name"] = "Standard_LRS" },
            ["properties"] = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "Copy", ["sourceResourceId"] = diskId },
                ["encryption"] = new JsonObject { ["type"] = "EncryptionAtRestWithCustomerKey", ["diskEncryptionSetId"] = setId },
            },
        }, cancellationToken);
        return snapshot.GetProperty("id").GetString()!;
    }

    /// <summary>
    /// The wrapped-DEK rows of the server's metadata database (read-only, while it runs): kind 1 = customer
    /// (with its set), 0 = platform; the kid that wraps each. Only the kid is read, never the wrapped bytes.
    /// </summary>
    public IReadOnlyList<(string VolumeId, long Layer, long Kind, string? SetId, string Kid)> DataKeyRows()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(DataDirectory, "metadata.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT volume_id, layer, kind, encryption_set_id, kid FROM compute_data_keys ORDER BY volume_id, layer";
        var rows = new List<(string, long, long, string?, string)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4)));
        }

        return rows;
    }

    /// <summary>A set body: identity, encryptionType, activeKey (+ rotation when given).</summary>
    public static JsonObject SetBody(string keyUrl, string? vaultId, JsonObject? identity = null, string encryptionType = "EncryptionAtRestWithCustomerKey",
        bool? rotation = null, string location = "eastus")
    {
        var activeKey = new JsonObject { ["keyUrl"] = keyUrl };
        if (vaultId is not null)
        {
            activeKey["sourceVault"] = new JsonObject { ["id"] = vaultId };
        }

        var properties = new JsonObject { ["encryptionType"] = encryptionType, ["activeKey"] = activeKey };
        if (rotation is { } r)
        {
            properties["rotationToLatestKeyVersionEnabled"] = r;
        }

        return new JsonObject
        {
            ["location"] = location,
            ["identity"] = identity?.DeepClone() ?? new JsonObject { ["type"] = "SystemAssigned" },
            ["properties"] = properties,
        };
    }

    public static JsonObject UserAssigned(params string[] ids)
    {
        var map = new JsonObject();
        foreach (var id in ids)
        {
            map[id] = new JsonObject();
        }

        return new JsonObject { ["type"] = "UserAssigned", ["userAssignedIdentities"] = map };
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value or <paramref name="timeout"/> passes (then fails with <paramref name="what"/>).</summary>
    public static async Task<T> WaitForAsync<T>(string what, Func<Task<T?>> probe, TimeSpan timeout, CancellationToken cancellationToken = default)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    public async Task<string> TokenAsync(string scope, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsync(new Uri($"/{TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = Field("clientId"),
            ["client_secret"] = Field("clientSecret"),
            ["scope"] = scope,
        }), cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("access_token").GetString()!;
    }

    private JsonObject Policy(string objectId, string[] keys) => new()
    {
        ["tenantId"] = TenantId,
        ["objectId"] = objectId,
        ["permissions"] = new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)k)]) },
    };

    private static async Task<ApiResponse> SendAsync(HttpClient http, HttpMethod method, string pathAndQuery, string token, JsonNode? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return new ApiResponse((int)response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static string Claim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1];
        var json = Convert.FromBase64String(payload.Replace('-', '+').Replace('_', '/').PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '='));
        return JsonDocument.Parse(json).RootElement.GetProperty(name).GetString()!;
    }

    private string Field(string name) =>
        Server.Endpoints.Json.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidOperationException($"endpoints.json has no '{name}'.");
}
