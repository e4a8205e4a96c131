// The vaults' data-plane listeners: one loopback port per existing vault (active or soft-deleted),
// bound when the vault is created and closed when it is purged, all multiplexed into ONE Kestrel
// endpoint (VaultPortsEndPoint) so TLS, HTTP/1.1 and HTTP/2 and the request pipeline are shared with
// the control plane. Invariants: only ports of existing vaults are ever bound (never the whole range:
// parallel servers share it); a port that cannot be bound is logged and the others keep working; a
// port is bound synchronously inside the Created event, so the vault answers as soon as ARM returns.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Ironclad.ControlPlane.KeyVault;
using Ironclad.ResourceManager.KeyVault;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Ironclad.Host.Server;

/// <summary>The Kestrel endpoint that stands for "every vault's port".</summary>
internal sealed class VaultPortsEndPoint : EndPoint
{
    public const string DisplayName = "vault-ports";

    public override string ToString() => DisplayName;
}

internal sealed partial class KeyVaultListeners : IConnectionListenerFactory, IConnectionListenerFactorySelector, IVaultListenerPorts
{
    private readonly IVaultDirectory _vaults;
    private readonly IVaultEvents _events;
    private readonly ILogger _logger;
    private readonly SocketTransportFactory _sockets;
    private readonly ConcurrentDictionary<int, byte> _everBound = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<int, PortListener> _open = [];
    private Channel<ConnectionContext>? _accepted;
    private IDisposable? _subscription;

    public KeyVaultListeners(IVaultDirectory vaults, IVaultEvents events, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _vaults = vaults;
        _events = events;
        _logger = loggerFactory.CreateLogger("Ironclad.KeyVault.Listeners");
        _sockets = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), loggerFactory);
    }

    /// <summary>The ports bound now (for tests and logs).</summary>
    public IReadOnlyList<int> OpenPorts
    {
        get
        {
            lock (_lock)
            {
                return [.. _open.Keys.Order()];
            }
        }
    }

    public bool IsVaultPort(int localPort) => _everBound.ContainsKey(localPort);

    public bool CanBind(EndPoint endpoint) => endpoint is VaultPortsEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not VaultPortsEndPoint)
        {
            throw new NotSupportedException($"{nameof(KeyVaultListeners)} binds only {nameof(VaultPortsEndPoint)}.");
        }

        lock (_lock)
        {
            if (_accepted is not null)
            {
                throw new InvalidOperationException("The vault listeners are already bound.");
            }

            _accepted = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });
        }

        // Subscribe first, then open what exists: a vault created in between is opened twice, harmlessly.
        _subscription = _events.Subscribe(OnVaultEvent);
        foreach (var vault in _vaults.ListAll())
        {
            Open(vault.Port, vault.Name);
        }

        return ValueTask.FromResult<IConnectionListener>(new MultiplexListener(this, endpoint));
    }

    private void OnVaultEvent(VaultEvent vaultEvent)
    {
        switch (vaultEvent.Kind)
        {
            case VaultEventKind.Created:
            case VaultEventKind.Recovered:
                Open(vaultEvent.Vault.Port, vaultEvent.Vault.Name);
                break;
            case VaultEventKind.Purged:
                Close(vaultEvent.Vault.Port);
                break;
            default:
                break;
        }
    }

    private void Open(int port, string vaultName)
    {
        lock (_lock)
        {
            if (_accepted is null || _open.ContainsKey(port))
            {
                return;
            }

            IConnectionListener inner;
            try
            {
                // SocketTransportFactory binds synchronously (the ValueTask is already complete).
#pragma warning disable VSTHRD002 // The socket bind is synchronous; the event handler must not return before it.
                inner = _sockets.BindAsync(new IPEndPoint(IPAddress.Loopback, port)).AsTask().GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
            }
            catch (Exception e) when (e is IOException or SocketException or AddressInUseException)
            {
                LogBindFailed(_logger, port, vaultName, e.Message);
                return;
            }

            _everBound[port] = 0;
            var listener = new PortListener(inner);
            listener.Loop = AcceptLoopAsync(listener, _accepted.Writer);
            _open[port] = listener;
            LogOpened(_logger, port, vaultName);
        }
    }

    private void Close(int port)
    {
        PortListener? listener;
        lock (_lock)
        {
            if (!_open.Remove(port, out listener))
            {
                return;
            }
        }

#pragma warning disable VSTHRD002 // Unbinding a socket listener completes synchronously; the port must be free when Purged returns.
        listener.StopAsync().AsTask().GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        LogClosed(_logger, port);
    }

    private async Task AcceptLoopAsync(PortListener listener, ChannelWriter<ConnectionContext> accepted)
    {
        try
        {
            while (await listener.Inner.AcceptAsync() is { } connection)
            {
                if (!accepted.TryWrite(connection))
                {
                    await connection.DisposeAsync();
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
        {
            // Unbound while accepting.
        }
#pragma warning disable CA1031 // One port's failure must not take the others down; it is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogAcceptFailed(_logger, e);
        }
    }

    private async ValueTask StopAllAsync()
    {
        _subscription?.Dispose();
        _subscription = null;
        List<PortListener> listeners;
        lock (_lock)
        {
            listeners = [.. _open.Values];
            _open.Clear();
            _accepted?.Writer.TryComplete();
        }

        foreach (var listener in listeners)
        {
            await listener.StopAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Vault {Vault} data plane listening on https://127.0.0.1:{Port}/")]
    private static partial void LogOpened(ILogger logger, int port, string vault);

    [LoggerMessage(Level = LogLevel.Information, Message = "Vault data-plane port {Port} closed")]
    private static partial void LogClosed(ILogger logger, int port);

    [LoggerMessage(Level = LogLevel.Error, Message = "Vault {Vault}: cannot listen on 127.0.0.1 port {Port} ({Reason}); its data plane is unreachable, the other vaults keep working")]
    private static partial void LogBindFailed(ILogger logger, int port, string vault, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "A vault data-plane listener failed while accepting connections")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception);

    private sealed class PortListener(IConnectionListener inner)
    {
        public IConnectionListener Inner { get; } = inner;

        public Task Loop { get; set; } = Task.CompletedTask;

        public async ValueTask StopAsync()
        {
            await Inner.UnbindAsync();
            await Loop;
            await Inner.DisposeAsync();
        }
    }

    /// <summary>What Kestrel sees: one listener whose connections come from every open vault port.</summary>
    private sealed class MultiplexListener(KeyVaultListeners owner, EndPoint endPoint) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = endPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            var reader = owner._accepted!.Reader;
            try
            {
                return await reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => owner.StopAllAsync();

        public ValueTask DisposeAsync() => owner.StopAllAsync();
    }
}
