// The CLI's only way to the server: HTTPS trusting exactly the profile's CA, client-credentials
// tokens (one per audience: Resource Manager, and the Key Vault data plane), ARM calls and vault
// calls whose failures become CliException carrying the service's error code and message.
// Invariant: the secret and the tokens never leave this class — they are not printed, logged or
// put into an exception.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ironclad.Host.Cli;

internal sealed class ArmConnection : IDisposable
{
    /// <summary>The audience Resource Manager accepts (api-compat §2.7).</summary>
    public const string ManagementScope = "https://management.azure.com/.default";

    /// <summary>The audience of the keys data plane (api-compat §1.2): the token a vault accepts.</summary>
    public const string VaultScope = "https://vault.azure.net/.default";

    /// <summary>The keys data plane api-version the CLI sends (api-compat §1.3).</summary>
    public const string VaultApiVersion = "2025-07-01";

    /// <summary>The api-versions the official clients send (api-compat §2.1); the server accepts any.</summary>
    public const string ResourcesApiVersion = "2025-04-01";

    public const string KeyVaultApiVersion = "2026-02-01";

    public const string AuthorizationApiVersion = "2022-04-01";

    public const string MonitorApiVersion = "2015-04-01";

    private readonly HttpClient _http;
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);

    private ArmConnection(CliProfile profile, HttpClient http)
    {
        Profile = profile;
        _http = http;
    }

    public CliProfile Profile { get; }

    public static ArmConnection Open(CliProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (!File.Exists(profile.CaCertificate))
        {
            throw new CliException("CaCertificateNotFound", $"The CA certificate {profile.CaCertificate} does not exist.");
        }

        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(profile.CaCertificate));
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = policy,
                RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None,
            },
        };
        return new ArmConnection(profile, new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(100) });
    }

    /// <summary>Gets a management token with the client credentials (proves the login works).</summary>
    public Task AuthenticateAsync(CancellationToken cancellationToken) => TokenAsync(ManagementScope, cancellationToken);

    /// <summary>A token for <paramref name="scope"/>, fetched once per run (client credentials, the profile's tenant).</summary>
    private async Task<string> TokenAsync(string scope, CancellationToken cancellationToken)
    {
        if (_tokens.TryGetValue(scope, out var cached))
        {
            return cached;
        }

        var tokenUrl = new Uri(new Uri(Profile.AuthorityHost.TrimEnd('/') + "/"), $"{Profile.TenantId}/oauth2/v2.0/token");
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = Profile.ClientId,
            ["client_secret"] = Profile.ClientSecret,
            ["scope"] = scope,
        });
        using var response = await SendCheckedAsync(() => _http.PostAsync(tokenUrl, form, cancellationToken), tokenUrl);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var code = body?["error"]?.GetValue<string>() ?? response.StatusCode.ToString();
            var description = body?["error_description"]?.GetValue<string>() ?? "the token request was refused";
            throw new CliException(code, FirstLine(description), (int)response.StatusCode);
        }

        var token = body?["access_token"]?.GetValue<string>()
            ?? throw new CliException("InvalidTokenResponse", "The token endpoint answered without an access_token.");
        _tokens[scope] = token;
        return token;
    }

    /// <summary>Sends one ARM request; returns the parsed body (null for none) or throws CliException with the service's error.</summary>
    public async Task<JsonNode?> SendAsync(HttpMethod method, string pathAndQuery, string apiVersion, JsonNode? body, CancellationToken cancellationToken)
    {
        var token = await TokenAsync(ManagementScope, cancellationToken);
        // An empty apiVersion: a non-ARM path of this server (the directory API) that takes none.
        var separator = pathAndQuery.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        var query = apiVersion.Length == 0 ? "" : $"{separator}api-version={apiVersion}";
        var uri = pathAndQuery.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            ? new Uri(pathAndQuery)
            : new Uri(new Uri(Profile.Url.TrimEnd('/') + "/"), pathAndQuery.TrimStart('/') + query);
        using var request = new HttpRequestMessage(method, uri);
        return await SendWithTokenAsync(method, uri, token, body, cancellationToken);
    }

    /// <summary>
    /// Sends one keys data-plane request to the vault at <paramref name="vaultUri"/> (its origin root) with a
    /// vault-audience bearer token sent up front — no 401 challenge round trip, the tenant is the profile's.
    /// <paramref name="pathAndQuery"/> may also be an absolute nextLink the vault returned.
    /// </summary>
    public async Task<JsonNode?> SendToVaultAsync(Uri vaultUri, HttpMethod method, string pathAndQuery, JsonNode? body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(vaultUri);
        var token = await TokenAsync(VaultScope, cancellationToken);
        Uri uri;
        if (pathAndQuery.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            uri = new Uri(pathAndQuery);
            if (!string.Equals(uri.GetLeftPart(UriPartial.Authority), vaultUri.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase))
            {
                // The vault's token goes to the vault only.
                throw new CliException("InvalidResponse", "The vault answered with a nextLink to another origin.");
            }
        }
        else
        {
            var separator = pathAndQuery.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            uri = new Uri(vaultUri, pathAndQuery.TrimStart('/') + $"{separator}api-version={VaultApiVersion}");
        }

        return await SendWithTokenAsync(method, uri, token, body, cancellationToken);
    }

    /// <summary>Every item of a vault list, following nextLink (on the same vault).</summary>
    public async Task<JsonArray> ListFromVaultAsync(Uri vaultUri, string pathAndQuery, CancellationToken cancellationToken)
    {
        var items = new JsonArray();
        string? next = pathAndQuery;
        for (var page = 0; next is not null; page++)
        {
            if (page > 10_000)
            {
                throw new CliException("TooManyPages", "The list did not end after 10000 pages.");
            }

            var result = await SendToVaultAsync(vaultUri, HttpMethod.Get, next, null, cancellationToken);
            foreach (var item in result?["value"]?.AsArray() ?? [])
            {
                items.Add(item?.DeepClone());
            }

            next = result?["nextLink"]?.GetValue<string>() is { Length: > 0 } link ? link : null;
        }

        return items;
    }

    private async Task<JsonNode?> SendWithTokenAsync(HttpMethod method, Uri uri, string token, JsonNode? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("x-ms-client-request-id", Guid.NewGuid().ToString());
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await SendCheckedAsync(() => _http.SendAsync(request, cancellationToken), uri);
        var result = await ReadJsonAsync(response, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return result;
        }

        // ARM: {"error":{"code","message"}}; the vault adds "innererror":{"code"} (e.g. Forbidden/KeyDisabled).
        var error = result?["error"];
        var message = error?["message"]?.GetValue<string>() ?? $"{method} {uri.AbsolutePath} answered {(int)response.StatusCode} {response.ReasonPhrase}";
        if (error?["innererror"]?["code"]?.GetValue<string>() is { Length: > 0 } inner)
        {
            message += $" (inner error: {inner})";
        }

        throw new CliException(
            error?["code"]?.GetValue<string>() ?? ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
            message,
            (int)response.StatusCode);
    }

    /// <summary>Every item of a list, following nextLink.</summary>
    public async Task<JsonArray> ListAsync(string pathAndQuery, string apiVersion, CancellationToken cancellationToken)
    {
        var items = new JsonArray();
        string? next = pathAndQuery;
        for (var page = 0; next is not null; page++)
        {
            if (page > 10_000)
            {
                throw new CliException("TooManyPages", "The list did not end after 10000 pages.");
            }

            var result = await SendAsync(HttpMethod.Get, next, apiVersion, null, cancellationToken);
            foreach (var item in result?["value"]?.AsArray() ?? [])
            {
                items.Add(item?.DeepClone());
            }

            next = result?["nextLink"]?.GetValue<string>() is { Length: > 0 } link ? link : null;
        }

        return items;
    }

    public void Dispose() => _http.Dispose();

    private static async Task<HttpResponseMessage> SendCheckedAsync(Func<Task<HttpResponseMessage>> send, Uri uri)
    {
        try
        {
            return await send();
        }
        catch (HttpRequestException e)
        {
            var reason = e.HttpRequestError == HttpRequestError.SecureConnectionError
                ? "the server's certificate is not trusted by the profile's CA"
                : e.HttpRequestError == HttpRequestError.ConnectionError ? "connection refused — is the server running?" : e.HttpRequestError.ToString();
            throw new CliException("ConnectionFailed", $"Cannot reach {uri.GetLeftPart(UriPartial.Authority)}: {reason}.");
        }
    }

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            if (response.StatusCode == HttpStatusCode.OK)
            {
                throw new CliException("InvalidResponse", "The server answered with a body that is not JSON.");
            }

            return null;
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
