// The activity log: every recorded write comes back with who/what/when/outcome, and queries by
// time range, resource-id prefix (case-insensitive, whole segments) and caller select exactly the
// matching events, newest first.
using Ironclad.Identity;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager.Tests;

public sealed class ActivityLogTests
{
    private static readonly CallerIdentity Alice = new(StoreFixture.Tenant, Guid.NewGuid(), Guid.NewGuid(), "https://management.azure.com", PrincipalType.ServicePrincipal);
    private static readonly CallerIdentity Bob = new(StoreFixture.Tenant, Guid.NewGuid(), Guid.NewGuid(), "https://management.azure.com", PrincipalType.ServicePrincipal);

    [Fact]
    public void Queries_select_by_time_prefix_and_caller()
    {
        using var f = new StoreFixture();
        var rg = $"/subscriptions/{StoreFixture.Sub}/resourceGroups/rg";
        var t0 = f.Time.GetUtcNow();
        var e1 = f.Activity.Record(Alice, StoreFixture.Sub, "Microsoft.Resources/subscriptions/resourceGroups/write", rg, "PUT", 201, "c1", null);
        f.Time.Advance(TimeSpan.FromMinutes(1));
        var e2 = f.Activity.Record(Bob, StoreFixture.Sub, "Microsoft.KeyVault/vaults/write", rg + "/providers/Microsoft.KeyVault/vaults/v", "PUT", 403, "c2", "AuthorizationFailed");
        f.Time.Advance(TimeSpan.FromMinutes(1));
        var e3 = f.Activity.Record(null, StoreFixture.Sub, "Microsoft.Resources/subscriptions/resourceGroups/write", rg + "2", "PUT", 401, "c3", "AuthenticationFailed");

        Assert.Equal([e3.EventId, e2.EventId, e1.EventId], f.Activity.Query(new ActivityQuery()).Select(e => e.EventId));
        Assert.Equal([e2.EventId], f.Activity.Query(new ActivityQuery(From: t0.AddSeconds(30), To: t0.AddSeconds(90))).Select(e => e.EventId));
        // "rg" must not match "rg2": prefixes are whole segments.
        Assert.Equal([e2.EventId, e1.EventId], f.Activity.Query(new ActivityQuery(ResourceIdPrefix: rg.ToUpperInvariant())).Select(e => e.EventId));
        Assert.Equal([e2.EventId], f.Activity.Query(new ActivityQuery(CallerObjectId: Bob.ObjectId)).Select(e => e.EventId));
        Assert.Empty(f.Activity.Query(new ActivityQuery(SubscriptionId: Guid.NewGuid())));

        var failed = f.Activity.Query(new ActivityQuery(CallerObjectId: Bob.ObjectId)).Single();
        Assert.Equal(("Failed", 403, "AuthorizationFailed", "c2", Bob.AppId), (failed.Result, failed.StatusCode, failed.ErrorCode, failed.CorrelationId, failed.CallerAppId));
        Assert.Equal("Succeeded", f.Activity.Query(new ActivityQuery(CallerObjectId: Alice.ObjectId)).Single().Result);
        Assert.Null(f.Activity.Query(new ActivityQuery(To: t0.AddMinutes(3)))[0].CallerObjectId);
    }

    [Fact]
    public void Events_survive_a_reopen()
    {
        using var f = new StoreFixture();
        var e = f.Activity.Record(Alice, StoreFixture.Sub, "op", "/subscriptions/" + StoreFixture.Sub, "DELETE", 200, "c", null);
        Assert.Equal(e, f.Reopen().QueryActivity(new ActivityQuery()).Single());
    }
}
