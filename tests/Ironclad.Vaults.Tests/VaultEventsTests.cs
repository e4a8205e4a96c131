// The in-process vault event hub: every subscriber sees each event in order, a failing subscriber
// neither stops the others nor escapes to the publisher (it is reported), and unsubscribing works.
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.Vaults.Tests;

public sealed class VaultEventsTests
{
    [Fact]
    public void A_failing_subscriber_is_reported_and_the_others_still_see_the_event()
    {
        using var h = new VaultsHarness();
        var hub = new VaultEventHub();
        var seen = new List<VaultEventKind>();
        var failures = new List<Exception>();
        hub.SubscriberFailed += failures.Add;
        using (hub.Subscribe(_ => throw new InvalidOperationException("subscriber bug")))
        using (hub.Subscribe(e => seen.Add(e.Kind)))
        {
            var provider = new VaultsProvider(h.Store, h.Ports, h.Time, hub);
            provider.Handle(VaultsHarness.Request("PUT", "rg1", "vaults/kv1", VaultsHarness.MinimalBody()));
            provider.Handle(VaultsHarness.Request("DELETE", "rg1", "vaults/kv1"));
            provider.Handle(VaultsHarness.Request("POST", null, "locations/eastus/deletedVaults/kv1/purge"));
        }

        Assert.Equal([VaultEventKind.Created, VaultEventKind.Deleted, VaultEventKind.Purged], seen);
        Assert.Equal(3, failures.Count);
        Assert.Null(h.Store.Find("kv1"));

        hub.Publish(new VaultEvent(VaultEventKind.Created, null!, h.Time.GetUtcNow()));
        Assert.Equal(3, seen.Count);                                          // unsubscribed
    }
}
