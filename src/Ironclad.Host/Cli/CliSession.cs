// One CLI invocation's connection to the server: an HttpClient that trusts exactly the profile's CA
// (or the system store when the profile names none), and a bearer token for the management
// audience, fetched again with the stored client credentials when the saved one is about to expire.
// Errors from the service are shown as "CODE: message" (the ARM envelope or the OAuth2 error);
// a secret or token is never printed.
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Ironclad.Host.Cli;

internal sealed class CliSession : IDisposable
{
    public const string ManagementScope = "https://management.azure.com/.default";

    private static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(2);

    private CliSession(HttpClient http, CliProfile profile, string profileDirectory)
    {
        Http = http;
        Profile = profile;
        ProfileDirectory = profileDirectory;
    }

    public HttpClient Http { get; }

    public CliProfile Profile { get; private set; }

    public string ProfileDirectory { get; }

    /// <summary>Opens the saved profile; throws <see cref="CliException"/> when there is none (run `ironclad login`).</summary>
    public static CliSession Open(string profileDirectory)
    {
        var profile = CliProfile.TryLoad(profileDirectory)
            ?? throw new CliException($"not logged in (no {CliProfile.FileName} in {profileDirectory}): run `ironclad login`");
        return new CliSession(CreateHttpClient(profile.Url, profile.CaCertificate), profile, profileDirectory);
    }

    public static HttpClient CreateHttpClient(string baseUrl, string? caCertificatePath)
    {
        var handler = new SocketsHttpHandler();
        if (!string.IsNullOrEmpty(caCertificatePath))
        {
            var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caCertificatePath));
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.Add(ca);
            handler.SslOptions = new SslClientAuthenticationOptions { CertificateChainPolicy = policy };
        }

        return new HttpClient(handler) { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>Client credentials at the token endpoint; returns the token and its expiry.</summary>
    public static async Task<(string Token, DateTimeOffset ExpiresOn)> AcquireTokenAsync(
        HttpClient http, string authorityHost, string tenantId, string clientId, string clientSecret, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(new Uri($"{authorityHost.TrimEnd('/')}/{Uri.EscapeDataString(tenantId)}/oauth2/v2.0/token"),
            new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = clientId,
                ["client_secret"] = clientSecret,
                ["scope"] = ManagementScope,
            }), cancellationToken);
        var body = await ReadJsonAsync(response, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw CliException.FromResponse(response, body);
        }

        var expiresIn = body.TryGetProperty("expires_in", out var value) && value.TryGetInt64(out var seconds) ? seconds : 0;
        return (body.GetProperty("access_token").GetString()!, DateTimeOffset.UtcNow.AddSeconds(expiresIn));
    }

    /// <summary>Sends a request with the bearer token; returns the parsed body, or throws <see cref="CliException"/> for an error status.</summary>
    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        var token = await TokenAsync(cancellationToken);
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is JsonElement json)
        {
            request.Content = new StringContent(json.GetRawText(), System.Text.Encoding.UTF8, "application/json");
        }

        using var response = await Http.SendAsync(request, cancellationToken);
        var result = await ReadJsonAsync(response, cancellationToken);
        return response.IsSuccessStatusCode ? result : throw CliException.FromResponse(response, result);
    }

    public void Dispose() => Http.Dispose();

    private async Task<string> TokenAsync(CancellationToken cancellationToken)
    {
        if (Profile.AccessToken is { } saved && Profile.ExpiresOn is { } expiresOn && expiresOn - RefreshMargin > DateTimeOffset.UtcNow)
        {
            return saved;
        }

        var (token, newExpiry) = await AcquireTokenAsync(Http, Profile.AuthorityHost, Profile.TenantId, Profile.ClientId, Profile.ClientSecret, cancellationToken);
        Profile = Profile with { AccessToken = token, ExpiresOn = newExpiry };
        Profile.Save(ProfileDirectory);
        return token;
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (text.Length == 0)
        {
            return default;
        }

        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }
}

/// <summary>A CLI failure with a message for stderr and an exit code (1 error, 3 not found).</summary>
internal sealed class CliException : Exception
{
    public CliException()
    {
    }

    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public CliException(string message, int exitCode)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; } = ExitCodes.Failure;

    /// <summary>"CODE: message" from the ARM envelope or the OAuth2 error body; 404 exits 3.</summary>
    public static CliException FromResponse(HttpResponseMessage response, JsonElement body)
    {
        string? code = null, message = null;
        if (body.ValueKind == JsonValueKind.Object)
        {
            if (body.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
                message = error.TryGetProperty("message", out var m) ? m.GetString() : null;
            }
            else if (body.TryGetProperty("error", out var oauthError) && oauthError.ValueKind == JsonValueKind.String)
            {
                code = oauthError.GetString();
                message = body.TryGetProperty("error_description", out var d) ? d.GetString() : null;
            }
        }

        var status = (int)response.StatusCode;
        return new CliException($"{code ?? $"Http{status}"}: {message ?? response.ReasonPhrase ?? "request failed"}",
            status == 404 ? 3 : ExitCodes.Failure);
    }
}
