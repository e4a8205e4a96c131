// The data path across a restart (tests/sdk-js/compute-datapath.mjs): known data written through Write
// SAS URLs into customer-key, double-encrypted and platform-key Upload disks, the server restarted, every
// disk and a snapshot read back through fresh Read SAS URLs; then the server is stopped and every file of
// its data directory (volume store, databases, logs) is scanned for the data and for every DEK the
// vault admin can unwrap from what the server stored: none may be there.
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ComputeDataPathSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "25440-25459"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Data_written_through_sas_survives_a_restart_and_nothing_plaintext_or_unwrapped_is_at_rest()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var environment = new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-datapath", ["IRONCLAD_PREFIX"] = "dp", ["IRONCLAD_PHASE"] = "before" };
        var before = await ComputeSdkSupport.RunAsync(_server, "compute-datapath.mjs", seed, environment, cancellationToken);

        await _server.RestartAsync(cancellationToken);

        environment["IRONCLAD_PHASE"] = "after";
        var after = await ComputeSdkSupport.RunAsync(_server, "compute-datapath.mjs", seed, environment, cancellationToken);
        var compared = after.GetProperty("compared");
        foreach (var disk in new[] { "cmk", "double", "platform", "snapshot" })
        {
            Assert.True(compared.GetProperty(disk).GetInt32() > 64 * 1024, $"{disk} was read back after the restart");
        }

        // The DEKs of the customer-key layers, recovered by unwrapping what the server stored.
        var vaultUri = new Uri(before.GetProperty("vaultUri").GetString()!);
        var keyIds = before.GetProperty("keyIds").EnumerateArray().Select(k => k.GetString()!).ToList();
        var deks = await ComputeSdkSupport.RecoverDeksAsync(_server, vaultUri, keyIds, cancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine($"recovered {deks.Count} customer-key DEKs from the stored wrapped keys");
        Assert.True(deks.Count >= 2, $"expected the wrapped DEKs of the customer-key disk and of the double-encrypted disk's inner layer in the data directory, unwrapped {deks.Count}");

        var exitCode = await _server.Server.StopAsync(cancellationToken: cancellationToken);
        Assert.Equal(0, exitCode);

        var patterns = new List<byte[]>();
        var labels = new List<string>();
        foreach (var (pattern, index) in before.GetProperty("patterns").EnumerateArray().Select((p, i) => (p, i)))
        {
            patterns.Add(Convert.FromBase64String(pattern.GetString()!));
            labels.Add($"known data slice {index}");
        }

        foreach (var (dek, index) in deks.Select((d, i) => (d, i)))
        {
            foreach (var pattern in ComputeSdkSupport.DekPatterns(dek))
            {
                patterns.Add(pattern);
                labels.Add($"DEK {index} ({pattern.Length} bytes)");
            }
        }

        ComputeSdkSupport.AssertNothingPlaintext(_server, patterns, labels, seed);
    }
}
