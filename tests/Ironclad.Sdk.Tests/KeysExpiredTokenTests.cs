// The expired-token case of the keys data plane, on its own server whose tokens live 5 seconds with
// no clock skew (vault ports 21535-21539): a vault token that worked is refused once expired with 401
// and the challenge again (so an SDK re-acquires a token and retries), and the refusal is audited.
namespace Ironclad.Sdk.Tests;

public sealed class KeysExpiredTokenTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "21535-21539", "--token-lifetime", "5", "--token-clock-skew", "0"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task An_expired_vault_token_gets_401_with_the_challenge()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var vaultUri = await KeysTestSupport.CreateVaultAsync(_server, "expiry", cancellationToken: cancellationToken);
        using var vault = KeysTestSupport.VaultClient(_server, vaultUri);
        var token = await KeysTestSupport.VaultTokenAsync(_server, cancellationToken);
        var (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", token, null, cancellationToken);
        using (response)
        {
            Assert.True(status == 200, $"{status} {body}");
        }

        await Task.Delay(TimeSpan.FromSeconds(6.5), cancellationToken);
        (status, body, response) = await KeysTestSupport.CallAsync(vault, HttpMethod.Get, $"/keys?{KeysTestSupport.ApiVersion}", token, null, cancellationToken);
        using (response)
        {
            Assert.Equal(401, status);
            Assert.Equal($"Bearer authorization=\"{_server.AuthorityHost}/{_server.TenantId}\", resource=\"https://vault.azure.net\"",
                Assert.Single(response.Headers.WwwAuthenticate).ToString());
            var error = body!.Value.GetProperty("error");
            Assert.Equal("Unauthorized", error.GetProperty("code").GetString());
            Assert.Contains("expiry", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        var audit = KeysTestSupport.ReadAudit(_server)
            .Where(r => r.GetProperty("vault").GetString() == "expiry")
            .Select(r => (r.GetProperty("operation").GetString(), r.GetProperty("status").GetInt32()))
            .ToList();
        Assert.Equal([("KeyList", 200), ("KeyList", 401)], audit);
    }
}
