// A server started with --token-lifetime 2 --token-clock-skew 0: a token works, then, once its
// lifetime has passed, the bearer middleware refuses it as ExpiredAuthenticationToken.
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class TokenExpiryTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--token-lifetime", "2", "--token-clock-skew", "0"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Token_is_refused_as_expired_after_its_lifetime()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var token = await _server.GetTokenAsync(cancellationToken: cancellationToken);
        var claims = IdentitySdkTests.Claims(token);
        Assert.Equal(2, claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64());

        using var http = _server.CreateHttpClient();
        async Task<HttpResponseMessage> ListAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/{_server.TenantId}/ironclad/servicePrincipals");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return await http.SendAsync(request, cancellationToken);
        }

        using (var fresh = await ListAsync())
        {
            // Issued and used within the same 2 s; on a very slow machine it may already be expired.
            if (fresh.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, fresh.StatusCode);
            }
        }

        // exp has whole-second resolution: wait until it is surely past.
        await Task.Delay(TimeSpan.FromSeconds(3.5), cancellationToken);
        using var expired = await ListAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        var body = JsonDocument.Parse(await expired.Content.ReadAsStringAsync(cancellationToken)).RootElement;
        Assert.Equal("ExpiredAuthenticationToken", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("ExpiredAuthenticationToken", expired.Headers.GetValues("x-ms-error-code").Single());
    }
}
