// The data path across a restart (tests/sdk-js/compute-datapath.mjs): known data written through Write
// SAS URLs into customer-key, double-encrypted and platform-key Upload disks, the server restarted, every
// disk and a snapshot read back through fresh Read SAS URLs; one disk deleted (its wrapped DEK must be
// gone: crypto-shredding); then the server is stopped and every file of its data directory (volume
// store, databases, logs) is scanned for the data, for every DEK the vault admin could unwrap from
// what the server stored, and for the shredded wrapped DEK: none may be there.
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
        foreach (var disk in new[] { "cmk", "double", "platform", "shred", "snapshot" })
        {
            Assert.True(compared.GetProperty(disk).GetInt32() > 64 * 1024, $"{disk} was read back after the restart");
        }

        // The DEKs of the customer-key layers, recovered by unwrapping what the server stored.
        var vaultUri = new Uri(before.GetProperty("vaultUri").GetString()!);
        var keyIds = before.GetProperty("keyIds").EnumerateArray().Select(k => k.GetString()!).ToList();
        var deks = await ComputeSdkSupport.RecoverDeksAsync(_server, vaultUri, keyIds, cancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine($"recovered {deks.Count} customer-key DEKs from the stored wrapped keys");
        Assert.True(deks.Count >= 3, $"expected the wrapped DEKs of the two customer-key disks and of the double-encrypted disk's inner layer in the data directory, unwrapped {deks.Count}");

        // Crypto-shredding: deleting a disk destroys its wrapped DEK; even the key's owner cannot recover it.
        Assert.Equal(200, await ComputeSdkSupport.DeleteAsync(_server,
            $"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg-datapath/providers/Microsoft.Compute/disks/dp-shred", cancellationToken));
        var remaining = await ComputeSdkSupport.RecoverDeksAsync(_server, vaultUri, keyIds, cancellationToken);
        var shredded = deks.Where(d => !remaining.Any(r => r.Dek.AsSpan().SequenceEqual(d.Dek))).ToList();
        Assert.True(shredded.Count == 1, $"deleting dp-shred should destroy exactly its wrapped DEK: {deks.Count} DEKs before, {remaining.Count} after");

        var exitCode = await _server.Server.StopAsync(cancellationToken: cancellationToken);
        Assert.Equal(0, exitCode);

        var patterns = new List<byte[]>();
        var labels = new List<string>();
        foreach (var (pattern, index) in before.GetProperty("patterns").EnumerateArray().Select((p, i) => (p, i)))
        {
            patterns.Add(Convert.FromBase64String(pattern.GetString()!));
            labels.Add($"known data slice {index}");
        }

        foreach (var (dek, index) in deks.Select((d, i) => (d.Dek, i)))
        {
            foreach (var pattern in ComputeSdkSupport.DekPatterns(dek))
            {
                patterns.Add(pattern);
                labels.Add($"DEK {index} ({pattern.Length} bytes)");
            }
        }

        // Nor may any copy of the shredded disk's wrapped DEK survive (WAL, free pages, journal).
        foreach (var (wrapped, _) in shredded)
        {
            patterns.Add(wrapped);
            labels.Add("the shredded disk's wrapped DEK");
            patterns.Add(System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(wrapped).TrimEnd('=')[..64]));
            labels.Add("the shredded disk's wrapped DEK (base64)");
            patterns.Add(System.Text.Encoding.ASCII.GetBytes(ComputeSdkSupport.Base64Url(wrapped)[..64]));
            labels.Add("the shredded disk's wrapped DEK (base64url)");
        }

        ComputeSdkSupport.AssertNothingPlaintext(_server, patterns, labels, seed);
    }
}
