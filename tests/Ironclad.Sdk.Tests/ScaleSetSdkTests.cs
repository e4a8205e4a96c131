// The seed's scale set (tests/sdk-js/vmss-seed.mjs through @azure/arm-compute 25.1.1): customer-key OS
// and data disks from a marketplace image, instances listed with their own Attached disks; qemu-io writes
// and reads instance 0's data disk over TLS with instance 0's certificate, which does not open instance
// 1's disk; set-level power operations on one instance, scale out and in by sku.capacity (removed
// instances' disks shredded), deleteInstances, delete. The script asserts each step; this side checks
// the summary it printed and drives the NBD clients.
using System.Text.Json;
using Ironclad.Testing;
using static Ironclad.Sdk.Tests.VmNbd;

namespace Ironclad.Sdk.Tests;

public sealed class ScaleSetSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "26540-26559"] };
    private readonly TempDirectory _scratch = new("ironclad-vmss-e2e");

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _scratch.Dispose();
    }

    [Fact]
    public async Task A_customer_key_scale_set_creates_scales_out_and_in_and_deletes_its_instances_with_their_own_disks()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        _ = QemuIo;
        var seed = Seeds.FromEnvironmentOrRandom();
        var certificates = _scratch.Combine("instance0-tls");
        var created = await PhaseAsync("create", seed, certificates, cancellationToken);

        var initial = created.GetProperty("initial").EnumerateArray().ToList();
        Assert.Equal(["0", "1"], initial.Select(i => i.GetProperty("instanceId").GetString()));
        var disks = initial.SelectMany(i => i.GetProperty("disks").EnumerateArray().Select(d => d.GetString()!)).ToList();
        Assert.Equal(4, disks.Distinct(StringComparer.Ordinal).Count());
        Assert.All(initial, i => Assert.StartsWith($"ss-set_{i.GetProperty("instanceId").GetString()}_OsDisk_1_", i.GetProperty("disks")[0].GetString(), StringComparison.Ordinal));
        Assert.Equal("PowerState/running", created.GetProperty("view0").GetProperty("power").GetString());

        // Instance 0's data disk over NBD with its own certificate; instance 1's disk stays closed to it.
        var data0 = VmExport.From(created.GetProperty("view0"), "/lun/0", certificates);
        var known = KnownData(seed, "instance0", 96 * 1024);
        await WriteAsync(data0, 1 << 20, known, _scratch.Path, cancellationToken);
        await AssertReadsAsync("instance 0's data disk", data0, 1 << 20, known, seed, cancellationToken);
        var data1 = VmExport.From(created.GetProperty("view1"), "/lun/0", certificates);
        await AssertNotServedAsync("instance 0's certificate on instance 1's data disk", data1, cancellationToken, alsoNbdCopy: true);

        var scaled = await PhaseAsync("scale", seed, certificates, cancellationToken);
        Assert.Equal(["0", "1", "2"], scaled.GetProperty("scaledOut").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["0"], scaled.GetProperty("scaledIn").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(2, scaled.GetProperty("afterRescale").GetArrayLength());
    }

    private Task<JsonElement> PhaseAsync(string phase, int seed, string certificates, CancellationToken cancellationToken) =>
        ComputeSdkSupport.RunAsync(_server, "vmss-seed.mjs", seed, new Dictionary<string, string?>
        {
            ["IRONCLAD_RG"] = "rg-vmss-e2e",
            ["IRONCLAD_PREFIX"] = "ss",
            ["IRONCLAD_PHASE"] = phase,
            ["IRONCLAD_CERT_DIR"] = certificates,
        }, cancellationToken);
}
