// The seed's scale set (tests/sdk-js/vmss-seed.mjs through @azure/arm-compute 25.1.1): customer-key OS
// and data disks from a marketplace image, instances listed with their own Attached disks, an instance's
// NBD exports and credentials, set-level power operations on one instance, scale out and in by
// sku.capacity (removed instances' disks shredded), deleteInstances, delete. The script asserts each
// step; this side checks the summary it printed.
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ScaleSetSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "26540-26559"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task A_customer_key_scale_set_creates_scales_out_and_in_and_deletes_its_instances_with_their_own_disks()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var output = await ComputeSdkSupport.RunAsync(_server, "vmss-seed.mjs", seed,
            new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-vmss-e2e", ["IRONCLAD_PREFIX"] = "ss" }, cancellationToken);

        var initial = output.GetProperty("initial").EnumerateArray().ToList();
        Assert.Equal(["0", "1"], initial.Select(i => i.GetProperty("instanceId").GetString()));
        var disks = initial.SelectMany(i => i.GetProperty("disks").EnumerateArray().Select(d => d.GetString()!)).ToList();
        Assert.Equal(4, disks.Distinct(StringComparer.Ordinal).Count());
        Assert.All(initial, i => Assert.StartsWith($"ss-set_{i.GetProperty("instanceId").GetString()}_OsDisk_1_", i.GetProperty("disks")[0].GetString(), StringComparison.Ordinal));
        Assert.Equal(["0", "1", "2"], output.GetProperty("scaledOut").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["0"], output.GetProperty("scaledIn").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(2, output.GetProperty("afterRescale").GetArrayLength());
        Assert.Equal("PowerState/running", output.GetProperty("view0").GetProperty("power").GetString());
    }
}
