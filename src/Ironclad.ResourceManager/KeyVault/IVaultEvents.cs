// In-process notifications of vault lifecycle changes, for the roles that follow the provider (the
// data plane opens a listener on a created vault's port and closes it on purge). Invariant: an event
// is published only after the change it reports is committed to the store; a subscriber that throws
// does not undo the change nor stop the other subscribers.
namespace Ironclad.ResourceManager.KeyVault;

public enum VaultEventKind
{
    Created,
    Updated,
    Deleted,
    Recovered,
    Purged,
    AccessPolicyChanged,
}

/// <summary>One committed change of a vault; <paramref name="Vault"/> is the record after it (before it, for Purged).</summary>
public sealed record VaultEvent(VaultEventKind Kind, VaultRecord Vault, DateTimeOffset At);

public interface IVaultEvents
{
    /// <summary>Calls <paramref name="handler"/> for every event from now on, until the returned handle is disposed.</summary>
    IDisposable Subscribe(Action<VaultEvent> handler);
}

/// <summary>The in-process implementation: synchronous fan-out to subscribers, in subscription order.</summary>
public sealed class VaultEventHub : IVaultEvents
{
    private readonly Lock _lock = new();
    private readonly List<Action<VaultEvent>> _handlers = [];

    public IDisposable Subscribe(Action<VaultEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _handlers.Add(handler);
        }

        return new Subscription(this, handler);
    }

    public void Publish(VaultEvent vaultEvent)
    {
        Action<VaultEvent>[] handlers;
        lock (_lock)
        {
            handlers = [.. _handlers];
        }

        List<Exception>? failures = null;
        foreach (var handler in handlers)
        {
            try
            {
                handler(vaultEvent);
            }
#pragma warning disable CA1031 // A subscriber's failure must not fail the committed ARM request; it is reported below.
            catch (Exception e)
#pragma warning restore CA1031
            {
                (failures ??= []).Add(e);
            }
        }

        if (failures is not null)
        {
            SubscriberFailed?.Invoke(new AggregateException("A vault event subscriber failed.", failures));
        }
    }

    /// <summary>Where subscriber failures go (the host logs them).</summary>
    public event Action<Exception>? SubscriberFailed;

    private void Unsubscribe(Action<VaultEvent> handler)
    {
        lock (_lock)
        {
            _handlers.Remove(handler);
        }
    }

    private sealed class Subscription(VaultEventHub hub, Action<VaultEvent> handler) : IDisposable
    {
        public void Dispose() => hub.Unsubscribe(handler);
    }
}
