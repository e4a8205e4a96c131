// In-process publish/subscribe shared by the roles that announce committed changes (vaults, keys).
// Invariant: delivery is synchronous, in subscription order, at most once per subscriber; a subscriber
// that throws neither undoes the change nor stops the others — its failure goes to SubscriberFailed.
namespace Ironclad.ResourceManager.Events;

public class EventHub<TEvent>
{
    private readonly Lock _lock = new();
    private readonly List<Action<TEvent>> _handlers = [];

    /// <summary>Where subscriber failures go (the host logs them).</summary>
    public event Action<Exception>? SubscriberFailed;

    /// <summary>Calls <paramref name="handler"/> for every event from now on, until the returned handle is disposed.</summary>
    public IDisposable Subscribe(Action<TEvent> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _handlers.Add(handler);
        }

        return new Subscription(this, handler);
    }

    public void Publish(TEvent published)
    {
        Action<TEvent>[] handlers;
        lock (_lock)
        {
            handlers = [.. _handlers];
        }

        List<Exception>? failures = null;
        foreach (var handler in handlers)
        {
            try
            {
                handler(published);
            }
#pragma warning disable CA1031 // A subscriber's failure must not fail the committed request; it is reported below.
            catch (Exception e)
#pragma warning restore CA1031
            {
                (failures ??= []).Add(e);
            }
        }

        if (failures is not null)
        {
            SubscriberFailed?.Invoke(new AggregateException("An event subscriber failed.", failures));
        }
    }

    private void Unsubscribe(Action<TEvent> handler)
    {
        lock (_lock)
        {
            _handlers.Remove(handler);
        }
    }

    private sealed class Subscription(EventHub<TEvent> hub, Action<TEvent> handler) : IDisposable
    {
        public void Dispose() => hub.Unsubscribe(handler);
    }
}
