// The shared fixture of the SDK tests: one real `ironclad server` on a fresh temp data directory,
// started once per test class (IClassFixture<SdkServer>) and stopped after it. Tests reach it the
// way clients do: through endpoints.json (bootstrap tenant, subscription, administrator client),
// HTTPS that trusts only its local CA, and the npm SDK scripts in tests/sdk-js (RunNodeAsync).
// Other roles' SDK tests reuse it as is: `public sealed class VaultSdkTests(SdkServer server) : IClassFixture<SdkServer>`.
using System.Net.Http.Json;
using System.Text.Json;
using Ironclad.Testing;
using Ironclad.Testing.Node;
using Ironclad.Testing.Processes;

namespace Ironclad.Sdk.Tests;

public sealed class SdkServer : IAsyncLifetime
{
    /// <summary>The scope arm-compute / arm-resources ask for; pass it explicitly to the others (api-compat.md §2.7).</summary>
    public const string ManagementScope = "https://management.azure.com/.default";

    private readonly TempDirectory _directory = new("ironclad-sdk-tests");
    private IroncladServer? _server;

    /// <summary>Extra `ironclad server` arguments; a subclass or a test-specific fixture may set them before start.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    public IroncladServer Server => _server ?? throw new InvalidOperationException("The server has not started.");

    public ServerEndpointsFile Endpoints => Server.Endpoints;

    public string DataDirectory => _directory.Combine("data");

    public Uri Url => Endpoints.Url;

    /// <summary>The base URL without a trailing slash, as the SDKs are given it.</summary>
    public string BaseUrl => Url.GetLeftPart(UriPartial.Authority);

    public string TenantId => Field("tenantId");

    public string SubscriptionId => Field("subscriptionId");

    public string ClientId => Field("clientId");

    public string ClientSecret => Field("clientSecret");

    public string AuthorityHost => Field("authorityHost");

    public async ValueTask InitializeAsync() =>
        _server = await IroncladServer.StartAsync(DataDirectory, ExtraArguments, cancellationToken: TestContext.Current.CancellationToken);

    /// <summary>Stops the server (SIGTERM) and starts it again on the same data directory: a restart.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        var exitCode = await Server.StopAsync(cancellationToken: cancellationToken);
        Assert.True(exitCode == 0, $"the server exited {exitCode} on SIGTERM\n{Server.Process.CapturedOutput()}");
        await Server.DisposeAsync();
        _server = null;
        _server = await IroncladServer.StartAsync(DataDirectory, ExtraArguments, cancellationToken: cancellationToken);
    }

    /// <summary>An HttpClient (base address = the server) that trusts only the server's CA.</summary>
    public HttpClient CreateHttpClient() => Server.CreateHttpClient();

    /// <summary>Runs tests/sdk-js/<paramref name="script"/> against this server (see <see cref="NodeSdk"/>).</summary>
    public Task<NodeResult> RunNodeAsync(string script, IReadOnlyDictionary<string, string?>? environment = null, CancellationToken cancellationToken = default) =>
        NodeSdk.RunAsync(script, Endpoints, Server.EndpointsPath, environment, cancellationToken: cancellationToken);

    /// <summary>A token from the token endpoint over plain HTTPS (no SDK), for the bootstrap administrator by default.</summary>
    public async Task<string> GetTokenAsync(string scope = ManagementScope, string? clientId = null, string? clientSecret = null, CancellationToken cancellationToken = default)
    {
        using var http = CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{TenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId ?? ClientId,
            ["client_secret"] = clientSecret ?? ClientSecret,
            ["scope"] = scope,
        }), cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>
    /// A second tenant with its own administrator (POST /{tenant}/ironclad/tenants as the bootstrap
    /// administrator): for cross-tenant refusals (a valid token of a tenant that does not own the subscription).
    /// </summary>
    public async Task<(string TenantId, string ClientId, string ClientSecret)> CreateTenantAsync(CancellationToken cancellationToken = default)
    {
        var token = await GetTokenAsync(cancellationToken: cancellationToken);
        using var http = CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/{TenantId}/ironclad/tenants") { Content = JsonContent.Create(new { displayName = "second" }) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"tenant creation failed: {(int)response.StatusCode} {body}");
        var administrator = body.GetProperty("administrator");
        return (body.GetProperty("tenantId").GetString()!, administrator.GetProperty("appId").GetString()!,
            administrator.GetProperty("passwordCredentials")[0].GetProperty("secretText").GetString()!);
    }

    /// <summary>A token from the token endpoint of <paramref name="tenantId"/> (not the bootstrap tenant).</summary>
    public async Task<string> GetTokenInTenantAsync(string tenantId, string clientId, string clientSecret, string scope = ManagementScope, CancellationToken cancellationToken = default)
    {
        using var http = CreateHttpClient();
        using var response = await http.PostAsync(new Uri($"/{tenantId}/oauth2/v2.0/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
            ["scope"] = scope,
        }), cancellationToken);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"token request failed: {(int)response.StatusCode} {body}");
        return body.GetProperty("access_token").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }

        _directory.Dispose();
    }

    private string Field(string name) =>
        Endpoints.Json.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidOperationException($"endpoints.json has no '{name}': {Endpoints.Json}");
}
