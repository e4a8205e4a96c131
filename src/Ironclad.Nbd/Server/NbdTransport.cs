// The byte stream under one NBD connection: the raw socket (plain NBD) or an SslStream (after
// STARTTLS). Sends take two buffers (reply header + payload) so plain connections can gather them
// into one sendmsg without copying the payload.
// Invariant: one writer at a time (the handshake, then the connection's single reply sender).
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ironclad.Nbd.Server;

internal abstract class NbdTransport : IAsyncDisposable
{
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>Sends every segment, in order, as few system calls as the transport allows.</summary>
    public abstract ValueTask SendAsync(List<ArraySegment<byte>> segments, CancellationToken cancellationToken);

    public async ValueTask ReceiveExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var received = await ReceiveAsync(buffer, cancellationToken);
            if (received == 0)
            {
                throw new EndOfStreamException("The client closed the connection.");
            }

            buffer = buffer[received..];
        }
    }
}

internal sealed class SocketTransport(Socket socket) : NbdTransport
{
    private readonly List<ArraySegment<byte>> _gather = [default, default];

    public Socket Socket => socket;

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, CancellationToken cancellationToken)
    {
        if (second.IsEmpty || !MemoryMarshal.TryGetArray(first, out var head) || !MemoryMarshal.TryGetArray(second, out var tail))
        {
            await SendAllAsync(first, cancellationToken);
            await SendAllAsync(second, cancellationToken);
            return;
        }

        // One sendmsg for header and payload; the payload is never copied.
        _gather[0] = head;
        _gather[1] = tail;
        var total = head.Count + tail.Count;
        var sent = await socket.SendAsync(_gather, SocketFlags.None);
        if (sent < total)
        {
            var remaining = sent < head.Count ? first[sent..] : ReadOnlyMemory<byte>.Empty;
            await SendAllAsync(remaining, cancellationToken);
            await SendAllAsync(second[Math.Max(0, sent - head.Count)..], cancellationToken);
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            var sent = await socket.SendAsync(buffer, SocketFlags.None, cancellationToken);
            buffer = buffer[sent..];
        }
    }

    public override async ValueTask SendAsync(List<ArraySegment<byte>> segments, CancellationToken cancellationToken)
    {
        var total = 0;
        foreach (var segment in segments)
        {
            total += segment.Count;
        }

        var sent = await socket.SendAsync(segments, SocketFlags.None);
        if (sent == total)
        {
            return;
        }

        // A short send (rare on a blocking-mode stream socket): finish segment by segment.
        foreach (var segment in segments)
        {
            if (sent >= segment.Count)
            {
                sent -= segment.Count;
                continue;
            }

            await SendAllAsync(segment.AsMemory(sent), cancellationToken);
            sent = 0;
        }
    }

    public override ValueTask DisposeAsync()
    {
        socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal sealed class TlsTransport(SslStream stream, Socket socket) : NbdTransport
{
    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        stream.ReadAsync(buffer, cancellationToken);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(first, cancellationToken);
        if (!second.IsEmpty)
        {
            await stream.WriteAsync(second, cancellationToken);
        }
    }

    public override async ValueTask SendAsync(List<ArraySegment<byte>> segments, CancellationToken cancellationToken)
    {
        foreach (var segment in segments)
        {
            await stream.WriteAsync(segment, cancellationToken);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await stream.ShutdownAsync();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The peer is already gone: a TLS close_notify cannot be delivered, and need not be.
        }

        await stream.DisposeAsync();
        socket.Dispose();
    }
}

/// <summary>
/// Buffered reads of the request stream in the transmission phase: headers and small payloads come
/// out of one receive; large payloads are received straight into their (aligned) buffers.
/// </summary>
internal sealed class RequestReader(NbdTransport transport)
{
    private const int BufferBytes = 64 * 1024;
    private const int DirectThresholdBytes = 16 * 1024;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferBytes, pinned: true);
    private int _start;
    private int _end;

    /// <summary>True when the next <paramref name="bytes"/> bytes can be read without a system call.</summary>
    public bool HasBuffered(int bytes) => _end - _start >= bytes;

    public async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var buffered = Math.Min(destination.Length, _end - _start);
        if (buffered > 0)
        {
            _buffer.AsMemory(_start, buffered).CopyTo(destination);
            _start += buffered;
            destination = destination[buffered..];
        }

        while (!destination.IsEmpty)
        {
            if (destination.Length >= DirectThresholdBytes)
            {
                await transport.ReceiveExactlyAsync(destination, cancellationToken);
                return;
            }

            var received = await transport.ReceiveAsync(_buffer, cancellationToken);
            if (received == 0)
            {
                throw new EndOfStreamException("The client closed the connection.");
            }

            _start = 0;
            _end = received;
            var n = Math.Min(destination.Length, received);
            _buffer.AsMemory(0, n).CopyTo(destination);
            _start = n;
            destination = destination[n..];
        }
    }
}
