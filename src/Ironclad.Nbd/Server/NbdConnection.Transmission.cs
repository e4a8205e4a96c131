// The transmission phase: requests are read in order, executed concurrently (up to QueueDepthMax
// in flight) and answered in completion order (proto.md "Transmission"). Replies are written by
// one sender at a time, batched (many replies per system call). A client that breaks a MUST (bad
// magic, an oversized payload beyond what can be skipped) is disconnected; every other bad
// request gets its errno, and every request that was read gets exactly one reply.
using System.Buffers.Binary;
using System.Text;
using Ironclad.Nbd.Buffers;
using Ironclad.Nbd.Exports;
using Ironclad.Nbd.Protocol;

namespace Ironclad.Nbd.Server;

internal sealed partial class NbdConnection
{
    private const int ExtentsPerReplyMax = 1024;
    private const long DiscardableWriteBytesMax = 256L << 20;

    private const int InlineBytesMax = 64 * 1024;
    private const int ReplyBatchMax = 64;
    private const int ReplyBatchBytesMax = 4 << 20;

    private readonly System.Collections.Concurrent.ConcurrentQueue<PendingRequest> _replies = new();
    private int _sending;
    private readonly Stack<PendingRequest> _requestPool = new();
    private SemaphoreSlim _inFlight = null!;
    private PinnedBuffer.Pool _buffers = null!;
    private ExportSession _session = null!;
    private CancellationTokenSource? _broken;

    private async Task<string> TransmitAsync(ExportSession session, CancellationToken shutdown)
    {
        _session = session;
        _buffers = new PinnedBuffer.Pool(_options.PayloadBytesMax);
        _inFlight = new SemaphoreSlim(_options.QueueDepthMax, _options.QueueDepthMax);
        // Replies are cancelled only when the connection breaks, never by shutdown: requests that
        // were read are answered before the connection closes (proto.md: a shutting-down server
        // SHOULD wait for in-flight requests).
        _broken = new CancellationTokenSource();
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(shutdown, _broken.Token);
        var cancellationToken = reading.Token;
        var reader = new RequestReader(_transport);
        var headerBytes = new byte[RequestHeader.SizeBytes];
        var reason = "client disconnected";
        try
        {
            while (true)
            {
                await reader.ReadExactlyAsync(headerBytes, cancellationToken);
                if (!RequestHeader.TryParse(headerBytes, out var header))
                {
                    throw new ProtocolViolationException("request without the NBD_REQUEST_MAGIC");
                }

                if (header.Command == NbdCommand.Disconnect)
                {
                    reason = "client sent NBD_CMD_DISC";
                    break;
                }

                var request = RentRequest(header);
                if (header.Command == NbdCommand.Write)
                {
                    if (header.LengthBytes > _options.PayloadBytesMax)
                    {
                        await DiscardPayloadAsync(reader, header.LengthBytes, cancellationToken);
                        request.Reject(NbdErrno.EINVAL, $"write of {header.LengthBytes} bytes exceeds the maximum block size {_options.PayloadBytesMax}");
                    }
                    else if (header.LengthBytes > 0)
                    {
                        request.Payload = _buffers.Rent((int)header.LengthBytes);
                        await reader.ReadExactlyAsync(request.Payload.Memory((int)header.LengthBytes), cancellationToken);
                    }
                }

                if (_inFlight.CurrentCount == 0)
                {
                    // Every slot may be held by a corked reply: send them before waiting for one.
                    await FlushCorkedRepliesAsync();
                }

                await _inFlight.WaitAsync(cancellationToken);
                if (RunsInline(header))
                {
                    // Small reads and writes cost less than waking another thread (50-100 µs on
                    // these VMs, see shared/bench/README.md): the reader runs them itself. While
                    // the next request is already buffered, its reply is corked: queued and sent
                    // with the others in one system call once the reader runs out of requests.
                    PrepareReply(request, Execute(request));
                    _replies.Enqueue(request);
                    if (!reader.HasBuffered(RequestHeader.SizeBytes))
                    {
                        await FlushCorkedRepliesAsync();
                    }
                }
                else
                {
                    ThreadPool.UnsafeQueueUserWorkItem(request, preferLocal: false);
                }
            }
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            reason = "server shutting down";
        }
        catch (OperationCanceledException) when (_broken.IsCancellationRequested)
        {
            reason = "a reply could not be sent";
        }
        finally
        {
            await FlushCorkedRepliesAsync();
            await DrainAsync();
        }

        return reason;
    }

    /// <summary>Small reads and plain writes (no FUA): microseconds of work, never a device sync.</summary>
    private static bool RunsInline(RequestHeader header) =>
        header.LengthBytes <= InlineBytesMax
        && (header.Command == NbdCommand.Read || (header.Command == NbdCommand.Write && (header.Flags & CommandFlags.Fua) == 0));

    /// <summary>Waits for every dispatched request to be answered; a client that stops reading gets 10 s.</summary>
    private async Task DrainAsync()
    {
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var acquired = 0;
        try
        {
            for (; acquired < _options.QueueDepthMax; acquired++)
            {
                await _inFlight.WaitAsync(patience.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Replies are stuck (the client is not reading): break the connection so they fail fast.
            await _broken!.CancelAsync();
            await _transport.DisposeAsync();
            for (; acquired < _options.QueueDepthMax; acquired++)
            {
                await _inFlight.WaitAsync(CancellationToken.None);
            }
        }
    }

    private async ValueTask DiscardPayloadAsync(RequestReader reader, uint lengthBytes, CancellationToken cancellationToken)
    {
        if (lengthBytes > DiscardableWriteBytesMax)
        {
            throw new ProtocolViolationException($"write payload of {lengthBytes} bytes");
        }

        var scratch = _buffers.Rent(Math.Min(1 << 20, _options.PayloadBytesMax));
        try
        {
            for (var remaining = lengthBytes; remaining > 0;)
            {
                var n = (int)Math.Min(remaining, (uint)scratch.Capacity);
                await reader.ReadExactlyAsync(scratch.Memory(n), cancellationToken);
                remaining -= (uint)n;
            }
        }
        finally
        {
            _buffers.Return(scratch);
        }
    }

    private async Task ProcessAsync(PendingRequest request)
    {
        PrepareReply(request, Execute(request));
        _replies.Enqueue(request);
        await FlushCorkedRepliesAsync();
    }

    /// <summary>Sends the queued replies unless another thread is already sending (it takes them too).</summary>
    private async ValueTask FlushCorkedRepliesAsync()
    {
        if (!_replies.IsEmpty && Interlocked.CompareExchange(ref _sending, 1, 0) == 0)
        {
            await SendRepliesAsync();
        }
    }

    /// <summary>
    /// Run by whichever worker finds no sender active: writes every queued reply, many per system
    /// call, until the queue is empty. Releases each request once its reply is on the wire (or the
    /// connection is broken), so in-flight accounting never leaks.
    /// </summary>
    private async Task SendRepliesAsync()
    {
        var batch = new List<PendingRequest>(ReplyBatchMax);
        var segments = new List<ArraySegment<byte>>(ReplyBatchMax * 2);
        while (true)
        {
            var bytes = 0;
            while (batch.Count < ReplyBatchMax && bytes < ReplyBatchBytesMax && _replies.TryDequeue(out var next))
            {
                batch.Add(next);
                segments.Add(next.Head);
                bytes += next.Head.Count;
                if (next.Body.Count > 0)
                {
                    segments.Add(next.Body);
                    bytes += next.Body.Count;
                }
            }

            if (batch.Count == 0)
            {
                Volatile.Write(ref _sending, 0);
                if (_replies.IsEmpty || Interlocked.CompareExchange(ref _sending, 1, 0) != 0)
                {
                    return;
                }

                continue;
            }

            try
            {
                if (!_broken!.IsCancellationRequested)
                {
                    await _transport.SendAsync(segments, _broken.Token);
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection is broken: stop the reader; it closes the connection.
                await _broken!.CancelAsync();
            }
            finally
            {
                foreach (var request in batch)
                {
                    ReturnRequest(request);
                    _inFlight.Release();
                }

                batch.Clear();
                segments.Clear();
            }
        }
    }

    private ReplyContent Execute(PendingRequest request)
    {
        if (request.RejectedWith is { } rejected)
        {
            return ReplyContent.Error(rejected, request.RejectionMessage);
        }

        var header = request.Header;
        var export = _session.Export;
        if (Validate(header, export) is { } invalid)
        {
            return invalid;
        }

        try
        {
            var fua = (header.Flags & CommandFlags.Fua) != 0;
            var offset = (long)header.OffsetBytes; // Validate checked the range against the export size
            var length = (int)Math.Min(header.LengthBytes, int.MaxValue);
            switch (header.Command)
            {
                case NbdCommand.Read:
                    request.Data = _buffers.Rent(length);
                    export.Read(offset, request.Data.Span(length));
                    return ReplyContent.ReadData(length);
                case NbdCommand.Write:
                    export.Write(offset, request.Payload is null ? ReadOnlySpan<byte>.Empty : request.Payload.Span(length), fua);
                    return ReplyContent.Ok;
                case NbdCommand.Flush:
                    export.Flush();
                    return ReplyContent.Ok;
                case NbdCommand.Trim:
                    export.Trim(offset, header.LengthBytes, fua);
                    return ReplyContent.Ok;
                case NbdCommand.WriteZeroes:
                    var noHole = (header.Flags & CommandFlags.NoHole) != 0;
                    if ((header.Flags & CommandFlags.FastZero) != 0 && !export.IsZeroingFast(noHole))
                    {
                        return ReplyContent.Error(NbdErrno.ENOTSUP, "zeroing this range would not be fast");
                    }

                    export.WriteZeroes(offset, header.LengthBytes, fua, noHole);
                    return ReplyContent.Ok;
                case NbdCommand.Cache:
                    return ReplyContent.Ok; // advisory: the export's page cache serves reads already
                case NbdCommand.BlockStatus:
                    return BlockStatus(request, offset, header.LengthBytes, (header.Flags & CommandFlags.RequestOne) != 0);
                default:
                    return ReplyContent.Error(NbdErrno.EINVAL, $"command {(ushort)header.Command} is not supported");
            }
        }
        catch (NbdExportException e)
        {
            return ReplyContent.Error(e.Errno, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            NbdLog.RequestFailed(_logger, header.Command.ToString(), _session.Name, e);
            return ReplyContent.Error(NbdErrno.EIO, "internal error");
        }
    }

    /// <summary>The request checks of proto.md: flags allowed for the command, range, read-only.</summary>
    private ReplyContent? Validate(RequestHeader header, INbdExport export)
    {
        // FUA is valid on every command once SEND_FUA is advertised (proto.md: the server "MUST
        // accept all commands with this bit set"); it only changes anything for writes.
        var allowed = CommandFlags.Fua | header.Command switch
        {
            NbdCommand.Read => _structuredReplies ? CommandFlags.DontFragment : CommandFlags.None,
            NbdCommand.WriteZeroes => CommandFlags.NoHole | CommandFlags.FastZero,
            NbdCommand.BlockStatus => CommandFlags.RequestOne,
            _ => CommandFlags.None,
        };
        if ((header.Flags & ~allowed) != 0)
        {
            return ReplyContent.Error(NbdErrno.EINVAL, $"flags 0x{(ushort)header.Flags:x} are not valid for command {(ushort)header.Command}");
        }

        if (header.Command is NbdCommand.Flush)
        {
            // Offset and length are reserved and MUST be zero for NBD_CMD_FLUSH.
            return header.OffsetBytes == 0 && header.LengthBytes == 0
                ? null
                : ReplyContent.Error(NbdErrno.EINVAL, "NBD_CMD_FLUSH with a nonzero offset or length");
        }

        if (header.Command is not (NbdCommand.Read or NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes or NbdCommand.Cache or NbdCommand.BlockStatus))
        {
            return ReplyContent.Error(NbdErrno.EINVAL, $"command {(ushort)header.Command} is not supported");
        }

        var writes = header.Command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (writes && export.IsReadOnly)
        {
            return ReplyContent.Error(NbdErrno.EPERM, "the export is read-only");
        }

        if (header.LengthBytes == 0)
        {
            return ReplyContent.Error(NbdErrno.EINVAL, "zero-length request");
        }

        var size = (ulong)export.SizeBytes;
        if (header.OffsetBytes > size || header.LengthBytes > size - header.OffsetBytes)
        {
            return writes
                ? ReplyContent.Error(NbdErrno.ENOSPC, "request extends beyond the end of the export")
                : ReplyContent.Error(NbdErrno.EINVAL, "request extends beyond the end of the export");
        }

        if (header.Command == NbdCommand.Read && header.LengthBytes > _options.PayloadBytesMax)
        {
            return ReplyContent.Error((header.Flags & CommandFlags.DontFragment) != 0 ? NbdErrno.EOVERFLOW : NbdErrno.EINVAL, "read larger than the maximum block size");
        }

        if (header.Command == NbdCommand.BlockStatus && !_baseAllocationSelected)
        {
            return ReplyContent.Error(NbdErrno.EINVAL, "no metadata context was selected");
        }

        return null;
    }

    private ReplyContent BlockStatus(PendingRequest request, long offset, uint length, bool one)
    {
        var extents = request.Extents ??= new NbdExtent[ExtentsPerReplyMax];
        var count = _session.Export.GetAllocation(offset, length, extents.AsSpan(0, one ? 1 : ExtentsPerReplyMax));
        var payload = request.ExtentPayload ??= new byte[4 + (ExtentsPerReplyMax * 8)];
        BinaryPrimitives.WriteUInt32BigEndian(payload, MetaContexts.BaseAllocationId);
        long covered = 0;
        var written = 0;
        for (var i = 0; i < count && covered < length; i++)
        {
            var extentLength = Math.Min(extents[i].LengthBytes, length - covered);
            if (extentLength <= 0)
            {
                break;
            }

            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4 + (written * 8)), (uint)extentLength);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(8 + (written * 8)), extents[i].State & (NbdExtent.Hole | NbdExtent.Zero));
            covered += extentLength;
            written++;
        }

        return written == 0
            ? ReplyContent.Error(NbdErrno.EIO, "the export reported no allocation extents")
            : ReplyContent.BlockStatus(4 + (written * 8));
    }

    private void PrepareReply(PendingRequest request, ReplyContent reply)
    {
        var header = request.ReplyHeader;
        var cookie = request.Header.Cookie;
        ReadOnlyMemory<byte> head;
        ReadOnlyMemory<byte> body = ReadOnlyMemory<byte>.Empty;
        if (reply.Errno != 0)
        {
            if (_structuredReplies)
            {
                var message = Encoding.UTF8.GetBytes(reply.Message ?? "");
                var length = Math.Min(message.Length, 4096);
                WriteStructuredHeader(header, ReplyType.Error, cookie, 6 + length);
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(20), (uint)reply.Errno);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(24), (ushort)length);
                head = header.AsMemory(0, 26);
                body = message.AsMemory(0, length);
            }
            else
            {
                head = WriteSimpleHeader(header, (uint)reply.Errno, cookie);
            }
        }
        else if (reply.Kind == ReplyKind.ReadData)
        {
            if (_structuredReplies)
            {
                WriteStructuredHeader(header, ReplyType.OffsetData, cookie, 8 + reply.LengthBytes);
                BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(20), request.Header.OffsetBytes);
                head = header.AsMemory(0, 28);
            }
            else
            {
                head = WriteSimpleHeader(header, 0, cookie);
            }

            body = request.Data!.Memory(reply.LengthBytes);
        }
        else if (reply.Kind == ReplyKind.BlockStatus)
        {
            WriteStructuredHeader(header, ReplyType.BlockStatus, cookie, reply.LengthBytes);
            head = header.AsMemory(0, 20);
            body = request.ExtentPayload.AsMemory(0, reply.LengthBytes);
        }
        else
        {
            head = WriteSimpleHeader(header, 0, cookie);
        }

        request.Head = Segment(head);
        request.Body = body.IsEmpty ? default : Segment(body);
    }

    private static ArraySegment<byte> Segment(ReadOnlyMemory<byte> memory) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out var segment)
            ? segment
            : throw new InvalidOperationException("Reply buffers are always array-backed.");

    private static ReadOnlyMemory<byte> WriteSimpleHeader(byte[] header, uint errno, ulong cookie)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), errno);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(8), cookie);
        return header.AsMemory(0, 16);
    }

    private static void WriteStructuredHeader(byte[] header, ReplyType type, ulong cookie, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(header, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), ReplyFlags.Done);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(16), (uint)payloadLength);
    }

    private PendingRequest RentRequest(RequestHeader header)
    {
        PendingRequest? request;
        lock (_requestPool)
        {
            _requestPool.TryPop(out request);
        }

        request ??= new PendingRequest(this);
        request.Header = header;
        return request;
    }

    private void ReturnRequest(PendingRequest request)
    {
        if (request.Payload is { } payload)
        {
            _buffers.Return(payload);
        }

        if (request.Data is { } data)
        {
            _buffers.Return(data);
        }

        request.Payload = null;
        request.Data = null;
        request.Head = default;
        request.Body = default;
        request.RejectedWith = null;
        request.RejectionMessage = null;
        lock (_requestPool)
        {
            _requestPool.Push(request);
        }
    }

    private enum ReplyKind
    {
        Ok,
        ReadData,
        BlockStatus,
    }

    private readonly record struct ReplyContent(ReplyKind Kind, NbdErrno Errno, string? Message, int LengthBytes)
    {
        public static ReplyContent Ok => new(ReplyKind.Ok, 0, null, 0);

        public static ReplyContent Error(NbdErrno errno, string? message) => new(ReplyKind.Ok, errno, message, 0);

        public static ReplyContent ReadData(int lengthBytes) => new(ReplyKind.ReadData, 0, null, lengthBytes);

        public static ReplyContent BlockStatus(int payloadBytes) => new(ReplyKind.BlockStatus, 0, null, payloadBytes);
    }

    /// <summary>One request between reading it and answering it; pooled per connection.</summary>
    private sealed class PendingRequest(NbdConnection connection) : IThreadPoolWorkItem
    {
        public RequestHeader Header { get; set; }

        /// <summary>Write payload, received before the request is dispatched.</summary>
        public PinnedBuffer? Payload { get; set; }

        /// <summary>Read reply data.</summary>
        public PinnedBuffer? Data { get; set; }

        public NbdExtent[]? Extents { get; set; }

        public byte[]? ExtentPayload { get; set; }

        public byte[] ReplyHeader { get; } = new byte[32];

        /// <summary>The reply's header and payload, ready to send.</summary>
        public ArraySegment<byte> Head { get; set; }

        public ArraySegment<byte> Body { get; set; }

        public NbdErrno? RejectedWith { get; set; }

        public string? RejectionMessage { get; set; }

        public void Reject(NbdErrno errno, string message)
        {
            RejectedWith = errno;
            RejectionMessage = message;
        }

        public void Execute() => _ = connection.ProcessAsync(this);
    }
}
