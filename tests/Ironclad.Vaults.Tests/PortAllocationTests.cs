// Each vault's data-plane origin: a loopback port of the configured range, allocated at creation
// (lowest free), stable across restarts, kept while soft-deleted, freed by purge; exhaustion refused.
using Ironclad.ResourceManager.KeyVault;
using static Ironclad.Vaults.Tests.CreateAndUpdateTests;

namespace Ironclad.Vaults.Tests;

public sealed class PortAllocationTests
{
    [Fact]
    public void Ports_are_allocated_in_order_and_survive_a_restart()
    {
        using var h = new VaultsHarness();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"https://127.0.0.1:{20000 + i}/", (string)h.Create("rg1", $"vault{i}")["properties"]!["vaultUri"]!);
        }

        h.Send("DELETE", "rg1", "vaults/vault2");
        h.Restart();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"vault{i}", h.Provider.FindByPort(20000 + i)!.Name);
        }

        Assert.True(h.Provider.FindByPort(20002)!.IsDeleted);
        Assert.Equal("https://127.0.0.1:20001/", (string)h.Get("rg1", "vault1")["properties"]!["vaultUri"]!);
        Assert.Equal("https://127.0.0.1:20005/", (string)h.Create("rg1", "vault5")["properties"]!["vaultUri"]!);
        Assert.Equal(6, h.Provider.ListAll().Count);
    }

    [Fact]
    public void An_exhausted_range_is_refused_with_a_clear_code_until_a_purge_frees_a_port()
    {
        using var h = new VaultsHarness(new VaultPortRange(30000, 30001));
        h.Create("rg1", "kv1");
        h.Create("rg1", "kv2");
        var before = h.Snapshot();

        var e = h.Fails("PUT", "rg1", "vaults/kv3", VaultsHarness.MinimalBody());
        Assert.Equal((409, "VaultPortsExhausted"), Code(e));
        Assert.Contains("30000-30001", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, h.Snapshot());

        h.Send("DELETE", "rg1", "vaults/kv1");
        Assert.Equal(409, h.Fails("PUT", "rg1", "vaults/kv3", VaultsHarness.MinimalBody()).StatusCode);   // a deleted vault keeps its port
        h.Send("POST", null, "locations/eastus/deletedVaults/kv1/purge");
        Assert.Equal("https://127.0.0.1:30000/", (string)h.Create("rg1", "kv3")["properties"]!["vaultUri"]!);
    }

    [Fact]
    public void Concurrent_creates_of_one_name_have_one_winner_and_distinct_names_get_distinct_ports()
    {
        using var h = new VaultsHarness();
        const int Contenders = 8;
        var outcomes = new int[Contenders];
        Parallel.For(0, Contenders, new ParallelOptions { MaxDegreeOfParallelism = Contenders }, i =>
        {
            try
            {
                outcomes[i] = h.Send("PUT", $"rg{i}", "vaults/contested", VaultsHarness.MinimalBody()).StatusCode;
            }
            catch (Ironclad.ResourceManager.Providers.ArmException e)
            {
                outcomes[i] = e.StatusCode;
            }
        });
        Assert.Equal(1, outcomes.Count(s => s == 201));
        Assert.Equal(Contenders - 1, outcomes.Count(s => s == 409));

        Parallel.For(0, 20, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => h.Create("rg1", $"many{i}"));
        var ports = h.Provider.ListAll().Select(v => v.Port).ToList();
        Assert.Equal(21, ports.Distinct().Count());
        Assert.Equal(Enumerable.Range(20000, 21), ports.Order());
    }

    [Fact]
    public void Concurrent_patches_of_one_vault_lose_no_update()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        const int Writers = 8;
        Parallel.For(0, Writers, new ParallelOptions { MaxDegreeOfParallelism = Writers }, i =>
            h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/add",
                $$$"""{"properties":{"accessPolicies":[{"tenantId":"{{{VaultsHarness.Tenant}}}","objectId":"{{{new Guid(i + 1, 0, 0, new byte[8])}}}","permissions":{"keys":["get"]} }]} }"""));
        Assert.Equal(Writers, h.Provider.FindByName("kv1")!.AccessPolicies.Count);
    }
}
