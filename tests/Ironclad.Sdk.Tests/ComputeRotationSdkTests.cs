// Rotation through the vault (tests/sdk-js/compute-rotation.mjs): keyClient.rotateKey on the key of a
// set with rotationToLatestKeyVersionEnabled moves the set (and a double-encryption set on the same
// key) to the new version with previousKeys empty; every disk and snapshot reads its data; disabling
// the old version changes nothing (no DEK is wrapped under it any more). A manual activeKey change
// to another key does the same.
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ComputeRotationSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "25480-25489"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Rotating_the_key_rewraps_every_disk_under_the_new_version_and_the_data_stays_readable()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var output = await ComputeSdkSupport.RunAsync(_server, "compute-rotation.mjs", seed,
            new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-rotation", ["IRONCLAD_PREFIX"] = "rot" }, cancellationToken);

        var rotation = output.GetProperty("rotation");
        var newVersion = rotation.GetProperty("newVersion").GetString();
        Assert.NotEqual(rotation.GetProperty("oldVersion").GetString(), newVersion);
        Assert.Equal(newVersion, rotation.GetProperty("activeKey").GetString());
        Assert.Equal(newVersion, rotation.GetProperty("doubleActiveKey").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, rotation.GetProperty("autoKeyRotationError").ValueKind);
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, rotation.GetProperty("lastKeyRotationTimestamp").ValueKind);
        TestContext.Current.TestOutputHelper?.WriteLine($"rotation completed (sets on the new version, previousKeys empty) {rotation.GetProperty("completedMs").GetInt32()} ms after rotateKey");

        Assert.True(output.GetProperty("readAfterRotation").GetInt32() > 0);
        Assert.True(output.GetProperty("readWithOldVersionDisabled").GetInt32() > 0);
        Assert.Matches(@"/keys/rot-key2/[0-9a-f]{32}$", output.GetProperty("manual").GetProperty("activeKey").GetString());
        Assert.True(output.GetProperty("readAfterManualChange").GetInt32() > 0);
    }
}
