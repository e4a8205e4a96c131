// The expired-token row of the authorization matrix, on its own server whose tokens live 2 seconds
// with no clock skew: a token that worked is refused with 401 ExpiredAuthenticationToken once it
// has expired, and the refused write is in the activity log.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class ArmExpiredTokenTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--token-lifetime", "2", "--token-clock-skew", "0"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task An_expired_token_is_refused_with_ExpiredAuthenticationToken()
    {
        var ct = TestContext.Current.CancellationToken;
        var token = await _server.GetTokenAsync(cancellationToken: ct);
        var path = $"/subscriptions/{_server.SubscriptionId}/resourcegroups/expiry?api-version=2025-04-01";
        using var http = _server.CreateHttpClient();
        using (var fresh = await SendAsync(http, HttpMethod.Put, path, token, ct))
        {
            Assert.Equal(HttpStatusCode.Created, fresh.StatusCode);
        }

        await Task.Delay(TimeSpan.FromSeconds(3.5), ct);
        using (var expired = await SendAsync(http, HttpMethod.Put, path, token, ct))
        {
            await ArmAuthorizationMatrixTests.AssertErrorAsync(expired, HttpStatusCode.Unauthorized, "ExpiredAuthenticationToken", ct);
        }

        var filter = Uri.EscapeDataString($"resourceGroupName eq 'expiry'");
        using var log = await SendAsync(http, HttpMethod.Get,
            $"/subscriptions/{_server.SubscriptionId}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={filter}",
            await _server.GetTokenAsync(cancellationToken: ct), ct);
        var statuses = (await log.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("value").EnumerateArray()
            .Select(e => e.GetProperty("properties").GetProperty("statusCode").GetString()).ToList();
        Assert.Equal(["401", "201"], statuses);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, string token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (method == HttpMethod.Put)
        {
            request.Content = JsonContent.Create(new { location = "eastus" });
        }

        return await http.SendAsync(request, ct);
    }
}
