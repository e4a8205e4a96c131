// The activity log: one event per write (PUT, PATCH, DELETE, POST) that reached Resource Manager,
// with who, what, when and the outcome; queryable by time range, resource id prefix and caller.
// Invariant: events are appended, never changed; they hold ids and codes, never bodies or tokens.
using Ironclad.Identity;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager.ActivityLog;

public sealed class ActivityLogService
{
    private readonly IResourceManagerStore _store;
    private readonly TimeProvider _time;

    public ActivityLogService(IResourceManagerStore store, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
    }

    /// <summary>Records a completed write. Status &lt; 400 is "Succeeded", otherwise "Failed".</summary>
    public ActivityEvent Record(
        CallerIdentity? caller, Guid? subscriptionId, string operationName, string resourceId, string httpMethod,
        int statusCode, string correlationId, string? errorCode)
    {
        var activity = new ActivityEvent(
            Guid.NewGuid(), _time.GetUtcNow(), subscriptionId, caller?.ObjectId, caller?.AppId, operationName, resourceId,
            httpMethod, statusCode, statusCode < 400 ? "Succeeded" : "Failed", correlationId, errorCode);
        _store.AppendActivity(activity);
        return activity;
    }

    public IReadOnlyList<ActivityEvent> Query(ActivityQuery query) => _store.QueryActivity(query);
}
