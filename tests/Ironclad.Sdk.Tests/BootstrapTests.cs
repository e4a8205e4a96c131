// The first start's bootstrap, seen from outside: endpoints.json (0600) carries the tenant,
// subscription, authority and administrator credentials and the vault port range; a restart keeps
// all of them, and a token issued before the restart still verifies against the JWKS after it.
using System.Net.Http.Json;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class BootstrapTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "21000-21009"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Endpoints_file_has_the_bootstrap_identity_and_a_restart_keeps_it()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var json = _server.Endpoints.Json;
        Assert.True(Guid.TryParse(_server.TenantId, out _));
        Assert.True(Guid.TryParse(_server.SubscriptionId, out _));
        Assert.True(Guid.TryParse(_server.ClientId, out _));
        Assert.True(_server.ClientSecret.Length >= 40);
        Assert.Equal(_server.BaseUrl, _server.AuthorityHost);
        Assert.Equal("21000-21009", json.GetProperty("vaultPorts").GetString());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_server.Server.EndpointsPath));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_server.DataDirectory, "keys", "identity-root.key")));
        }

        var token = await _server.GetTokenAsync(cancellationToken: cancellationToken);
        var before = (_server.TenantId, _server.SubscriptionId, _server.ClientId, _server.ClientSecret);

        await _server.RestartAsync(cancellationToken);

        Assert.Equal(before, (_server.TenantId, _server.SubscriptionId, _server.ClientId, _server.ClientSecret));
        // The bootstrap secret still works, and the signing key survived (same kid in the JWKS).
        var after = await _server.GetTokenAsync(cancellationToken: cancellationToken);
        var kid = IdentitySdkTests.Header(token).GetProperty("kid").GetString();
        Assert.Equal(kid, IdentitySdkTests.Header(after).GetProperty("kid").GetString());
        using var http = _server.CreateHttpClient();
        var keys = await http.GetFromJsonAsync<JsonElement>($"/{_server.TenantId}/discovery/v2.0/keys", cancellationToken);
        Assert.Contains(keys.GetProperty("keys").EnumerateArray(), k => k.GetProperty("kid").GetString() == kid);
        Assert.DoesNotContain(_server.ClientSecret, _server.Server.Process.CapturedOutput(), StringComparison.Ordinal);
    }
}
