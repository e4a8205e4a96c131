// Helpers of the keys data-plane tests that talk plain HTTPS: a vault created through ARM (as the
// bootstrap administrator), an HttpClient for the vault's own origin that trusts only the server's CA,
// tokens for the vault audience, and a JWT's claims. Nothing here touches the server in-process.
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Sdk.Tests;

internal static class KeysTestSupport
{
    public const string VaultScope = "https://vault.azure.net/.default";
    public const string ApiVersion = "api-version=2025-07-01";
    public const string ResourceGroup = "rg-keys";

    /// <summary>Every key permission (access policies), for the administrator's entry.</summary>
    public static readonly string[] AllKeyPermissions =
    [
        "get", "list", "create", "update", "import", "delete", "recover", "backup", "restore", "encrypt", "decrypt",
        "wrapKey", "unwrapKey", "sign", "verify", "purge", "rotate", "getrotationpolicy", "setrotationpolicy",
    ];

    /// <summary>Creates a vault through ARM; the administrator gets every key permission unless <paramref name="rbac"/>.</summary>
    public static async Task<Uri> CreateVaultAsync(SdkServer server, string name, bool rbac = false, bool purgeProtection = false,
        CancellationToken cancellationToken = default)
    {
        var token = await server.GetTokenAsync(cancellationToken: cancellationToken);
        var adminObjectId = Claim(token, "oid");
        using var http = server.CreateHttpClient();
        await SendAsync(http, HttpMethod.Put, $"/subscriptions/{server.SubscriptionId}/resourcegroups/{ResourceGroup}?api-version=2025-04-01",
            token, new JsonObject { ["location"] = "eastus" }, cancellationToken);
        var properties = new JsonObject
        {
            ["tenantId"] = server.TenantId,
            ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
            ["enableSoftDelete"] = true,
            ["softDeleteRetentionInDays"] = 7,
            ["enableRbacAuthorization"] = rbac,
            ["accessPolicies"] = rbac
                ? new JsonArray()
                : new JsonArray(new JsonObject
                {
                    ["tenantId"] = server.TenantId,
                    ["objectId"] = adminObjectId,
                    ["permissions"] = new JsonObject { ["keys"] = new JsonArray([.. AllKeyPermissions.Select(p => (JsonNode)p)]) },
                }),
        };
        if (purgeProtection)
        {
            properties["enablePurgeProtection"] = true;
        }

        var vault = await SendAsync(http, HttpMethod.Put,
            $"/subscriptions/{server.SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.KeyVault/vaults/{name}?api-version=2024-11-01",
            token, new JsonObject { ["location"] = "eastus", ["properties"] = properties }, cancellationToken);
        return new Uri(vault.GetProperty("properties").GetProperty("vaultUri").GetString()!);
    }

    /// <summary>Soft-deletes a vault through ARM.</summary>
    public static Task DeleteVaultAsync(SdkServer server, string name, CancellationToken cancellationToken = default) =>
        SendArmAsync(server, HttpMethod.Delete,
            $"/subscriptions/{server.SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.KeyVault/vaults/{name}?api-version=2024-11-01",
            "vault delete", cancellationToken);

    /// <summary>Purges a soft-deleted vault through ARM (POST …/locations/eastus/deletedVaults/{name}/purge).</summary>
    public static Task PurgeVaultAsync(SdkServer server, string name, CancellationToken cancellationToken = default) =>
        SendArmAsync(server, HttpMethod.Post,
            $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/{name}/purge?api-version=2024-11-01",
            "vault purge", cancellationToken);

    /// <summary>One bodiless ARM call as the administrator that must succeed.</summary>
    private static async Task SendArmAsync(SdkServer server, HttpMethod method, string path, string what, CancellationToken cancellationToken)
    {
        var token = await server.GetTokenAsync(cancellationToken: cancellationToken);
        using var http = server.CreateHttpClient();
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{what} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
    }

    /// <summary>An HttpClient whose base address is the vault's origin, trusting only the server's CA.</summary>
    public static HttpClient VaultClient(SdkServer server, Uri vaultUri) => CaTrust.CreateHttpClient(server.Endpoints.CaCertificate, vaultUri);

    public static Task<string> VaultTokenAsync(SdkServer server, CancellationToken cancellationToken = default) =>
        server.GetTokenAsync(VaultScope, cancellationToken: cancellationToken);

    /// <summary>Sends a data-plane request; returns status, body (null when empty) and the response.</summary>
    public static async Task<(int Status, JsonElement? Body, HttpResponseMessage Response)> CallAsync(
        HttpClient vault, HttpMethod method, string pathAndQuery, string? token, string? jsonBody = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (jsonBody is not null)
        {
            request.Content = new StringContent(jsonBody, Encoding.UTF8, "application/json");
        }

        var response = await vault.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    /// <summary>
    /// Scans every file of the running server's data directory for the patterns. The files are copied
    /// out first, while the server runs (what a thief with the disk would see, WAL and audit log
    /// included), except the lock files and the volume store, which the server holds exclusively: no
    /// vault data goes there (disks get their DEK from the vault, never the other way round).
    /// </summary>
    public static IReadOnlyList<PlaintextScanner.Finding> ScanDataDirectory(SdkServer server, IReadOnlyList<byte[]> patterns)
    {
        using var copy = new TempDirectory("ironclad-keys-scan");
        foreach (var path in Directory.EnumerateFiles(server.DataDirectory, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(server.DataDirectory, path);
            if (Path.GetFileName(relative) == "lock" || relative.StartsWith("volumes" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            var target = copy.Combine(relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var destination = File.Create(target);
            source.CopyTo(destination);
        }

        return PlaintextScanner.Scan(copy.Path, patterns)
            .Select(f => f with { FilePath = Path.GetRelativePath(copy.Path, f.FilePath) })
            .ToList();
    }

    /// <summary>Every record of DIR/keyvault/audit.log (JSON lines), read while the server appends to it.</summary>
    public static List<JsonElement> ReadAudit(SdkServer server)
    {
        var path = Path.Combine(server.DataDirectory, "keyvault", "audit.log");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var records = new List<JsonElement>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                records.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
        }

        return records;
    }

    /// <summary>A claim of a JWT's payload (not verified: the test only reads its own token).</summary>
    public static string Claim(string jwt, string name)
    {
        var payload = jwt.Split('.')[1];
        var json = Convert.FromBase64String(payload.Replace('-', '+').Replace('_', '/').PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '='));
        return JsonDocument.Parse(json).RootElement.GetProperty(name).GetString()!;
    }

    private static async Task<JsonElement> SendAsync(HttpClient http, HttpMethod method, string path, string token, JsonObject body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} failed: {(int)response.StatusCode} {result}");
        return result;
    }
}
