// A server restart in the middle of a key's life, through @azure/keyvault-keys 4.10.2: the vault keeps
// its port, the key its version, and a DEK wrapped before the restart unwraps after it; the data
// directory never holds the DEK. One server (vault ports 21470-21479), restarted on the same directory.
using System.Security.Cryptography;

namespace Ironclad.Sdk.Tests;

public sealed class KeysRestartSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "21470-21479"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Keys_survive_a_restart_and_unwrap_what_was_wrapped_before_it()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var dek = RandomNumberGenerator.GetBytes(32);
        var environment = new Dictionary<string, string?>
        {
            ["IRONCLAD_VAULT"] = "keys-restart",
            ["IRONCLAD_PHASE"] = "before",
            ["IRONCLAD_DEK"] = Convert.ToBase64String(dek),
        };
        var before = (await _server.RunNodeAsync("keys-restart.mjs", environment, cancellationToken)).EnsureSuccess();

        await _server.RestartAsync(cancellationToken);

        environment["IRONCLAD_PHASE"] = "after";
        environment["IRONCLAD_DEK"] = null;
        environment["IRONCLAD_WRAPPED"] = before.GetProperty("wrapped").GetString();
        var after = (await _server.RunNodeAsync("keys-restart.mjs", environment, cancellationToken)).EnsureSuccess();

        Assert.Equal(before.GetProperty("vaultUri").GetString(), after.GetProperty("vaultUri").GetString());
        Assert.Equal(before.GetProperty("kid").GetString(), after.GetProperty("kid").GetString());
        Assert.Equal(before.GetProperty("kid").GetString(), after.GetProperty("unwrappedBy").GetString());
        Assert.Equal(dek, Convert.FromBase64String(after.GetProperty("dek").GetString()!));
        Assert.Equal("CustomizedRecoverable", after.GetProperty("recoveryLevel").GetString());
        Assert.Empty(KeysTestSupport.ScanDataDirectory(_server, [dek]));
    }
}
