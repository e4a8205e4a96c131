// HSM mode end to end: `ironclad server --hsm-module … --hsm-token-label … --hsm-pin-file …` over a
// SoftHSM2 token made by softhsm2-util, driven by @azure/keyvault-keys 4.10.2 (tests/sdk-js/keys-hsm.mjs):
// RSA-HSM keys (created, created with hsm:true, imported) wrap, unwrap, decrypt and sign, and a DEK
// wrapped before a restart unwraps after it. Then the proof that private parts are not in the data
// directory: keys.db has no sealed material for those versions, only a token handle; pkcs11-tool
// shows each handle as a sensitive private-key object in the token (whose directory is outside the
// data directory); and the imported key's private parts and the DEK appear in no file of the data directory.
using System.Security.Cryptography;
using System.Text.Json;
using Ironclad.Testing;
using Ironclad.Testing.Tools;
using Microsoft.Data.Sqlite;

namespace Ironclad.Sdk.Tests;

public sealed class KeysHsmSdkTests : IAsyncLifetime
{
    private readonly TempDirectory _secrets = new("ironclad-hsm-sdk");
    private readonly string _label = "ironclad-sdk-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5));
    private readonly string _pin = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
    private SdkServer? _server;

    private SdkServer Server => _server ?? throw new InvalidOperationException("not started");

    public async ValueTask InitializeAsync()
    {
        var module = SoftHsm.RequireModule();
        var util = ExternalTool.Require("softhsm2-util", "Debian package softhsm2");
        // Sets SOFTHSM2_CONF for this process, and so for the server it starts: the tokens stay in a temp directory.
        var conf = SoftHsm.ConfPath;
        (await util.RunAsync(
            ["--init-token", "--free", "--label", _label, "--pin", _pin, "--so-pin", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))],
            environment: new Dictionary<string, string?> { [SoftHsm.ConfVariable] = conf },
            cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("softhsm2-util --init-token");

        var pinFile = _secrets.Combine("hsm.pin");
        await File.WriteAllTextAsync(pinFile, _pin + "\n", TestContext.Current.CancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(pinFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        _server = new SdkServer
        {
            ExtraArguments = ["--vault-ports", "21490-21499", "--hsm-module", module, "--hsm-token-label", _label, "--hsm-pin-file", pinFile],
        };
        await _server.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _secrets.Dispose();
    }

    [Fact]
    public async Task RSA_HSM_keys_work_through_the_SDK_survive_a_restart_and_keep_their_private_parts_in_the_token()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        using var imported = RSA.Create(2048);
        var parameters = imported.ExportParameters(includePrivateParameters: true);
        var dek = RandomNumberGenerator.GetBytes(32);
        var environment = new Dictionary<string, string?>
        {
            ["IRONCLAD_VAULT"] = "keys-hsm",
            ["IRONCLAD_PHASE"] = "before",
            ["IRONCLAD_DEK"] = Convert.ToBase64String(dek),
            ["IRONCLAD_IMPORT_JWK"] = JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["n"] = Base64Url(parameters.Modulus!),
                ["e"] = Base64Url(parameters.Exponent!),
                ["d"] = Base64Url(parameters.D!),
                ["p"] = Base64Url(parameters.P!),
                ["q"] = Base64Url(parameters.Q!),
                ["dp"] = Base64Url(parameters.DP!),
                ["dq"] = Base64Url(parameters.DQ!),
                ["qi"] = Base64Url(parameters.InverseQ!),
            }),
        };
        var before = (await Server.RunNodeAsync("keys-hsm.mjs", environment, cancellationToken)).EnsureSuccess();
        Assert.Equal("BadParameter", before.GetProperty("refusedOnStandard").GetString());
        var versions = before.GetProperty("versions").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.Equal(["hsm-byok", "hsm-created", "hsm-flag"], versions.Keys.Order(StringComparer.Ordinal));

        // A new server process over the same token finds its root key and the RSA-HSM keys.
        await Server.RestartAsync(cancellationToken);
        environment["IRONCLAD_PHASE"] = "after";
        environment["IRONCLAD_DEK"] = null;
        environment["IRONCLAD_IMPORT_JWK"] = null;
        environment["IRONCLAD_WRAPPED"] = before.GetProperty("wrapped").GetString();
        var after = (await Server.RunNodeAsync("keys-hsm.mjs", environment, cancellationToken)).EnsureSuccess();
        Assert.Equal(dek, Convert.FromBase64String(after.GetProperty("dek").GetString()!));

        // keys.db: no sealed private material for these versions, only the token handle.
        var handles = new List<string>();
        var connection = new SqliteConnection($"Data Source={Path.Combine(Server.DataDirectory, "keyvault", "keys.db")};Mode=ReadOnly;Pooling=False");
        await using (connection)
        {
            await connection.OpenAsync(cancellationToken);
            foreach (var (name, version) in versions)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT kty, sealed_private IS NULL, hsm_handle FROM kv_key_versions WHERE version = $v";
                command.Parameters.AddWithValue("$v", version);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                Assert.True(await reader.ReadAsync(cancellationToken), $"{name}/{version} is not in keys.db");
                Assert.Equal("RSA-HSM", reader.GetString(0));
                Assert.True(reader.GetBoolean(1), $"{name}/{version} has sealed private material in keys.db");
                handles.Add(reader.GetString(2));
            }
        }

        // The token holds each of them as a sensitive private key (pkcs11-tool reads the token as another process would).
        var tool = ExternalTool.Require("pkcs11-tool", "Debian package opensc");
        var listing = (await tool.RunAsync(
            ["--module", SoftHsm.RequireModule(), "--token-label", _label, "--login", "--pin", _pin, "--list-objects", "--type", "privkey"],
            environment: new Dictionary<string, string?> { [SoftHsm.ConfVariable] = SoftHsm.ConfPath },
            cancellationToken: cancellationToken)).EnsureSuccess("pkcs11-tool --list-objects").StandardOutput;
        foreach (var handle in handles)
        {
            var at = listing.IndexOf("ID:         " + handle, StringComparison.OrdinalIgnoreCase);
            Assert.True(at >= 0, $"handle {handle} is not a private key in the token:\n{listing}");
            var access = listing.IndexOf("Access:", at, StringComparison.Ordinal);
            Assert.True(access >= 0 && listing[access..].Split('\n')[0].Contains("sensitive", StringComparison.Ordinal), $"{handle} is not sensitive:\n{listing}");
        }

        Assert.False(SoftHsm.TokenDirectory.StartsWith(Server.DataDirectory, StringComparison.Ordinal));

        // No private part of the imported key, and not the DEK, in any file of the data directory
        // (read once the server has stopped: it holds the directory's lock file open).
        Assert.Equal(0, await Server.Server.StopAsync(cancellationToken: cancellationToken));
        byte[][] secrets = [parameters.D!, parameters.P!, parameters.Q!, parameters.DP!, parameters.DQ!, parameters.InverseQ!, dek];
        Assert.Empty(PlaintextScanner.Scan(Server.DataDirectory, [.. secrets.Select(s => s[..24])]));
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
