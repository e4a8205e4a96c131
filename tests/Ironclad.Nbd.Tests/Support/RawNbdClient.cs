// A minimal NBD client that speaks the wire format byte for byte (big-endian via BinaryPrimitives),
// so tests can drive the handshake with exactly the options they choose and send malformed bytes.
// Every receive has a timeout: a server that hangs fails the test with TimeoutException instead of
// hanging it.
using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Ironclad.Nbd.Tests.Support;

internal sealed record OptionReply(uint Option, uint Type, byte[] Data)
{
    public bool IsError => (Type & 0x80000000) != 0;

    public bool IsFinal => Type == Wire.RepAck || IsError;

    public ushort InfoType => BinaryPrimitives.ReadUInt16BigEndian(Data);

    public string Text => Encoding.UTF8.GetString(Data);
}

/// <summary>One transmission reply: a simple reply, or one structured chunk.</summary>
internal sealed record Reply(bool Structured, ulong Cookie, uint Errno, ushort Flags, ushort Type, byte[] Payload)
{
    public bool IsDone => !Structured || (Flags & Wire.ReplyFlagDone) != 0;

    /// <summary>Read data: the whole payload of a simple reply, or the data of an OFFSET_DATA chunk.</summary>
    public byte[] Data => Structured ? (Type == Wire.ReplyTypeOffsetData ? Payload[8..] : []) : Payload;

    public ulong DataOffset => BinaryPrimitives.ReadUInt64BigEndian(Payload);

    public string ErrorMessage => Structured && Errno != 0
        ? Encoding.UTF8.GetString(Payload, 6, BinaryPrimitives.ReadUInt16BigEndian(Payload.AsSpan(4)))
        : "";
}

internal sealed record NegotiatedExport(ulong SizeBytes, ushort Flags, IReadOnlyList<OptionReply> Replies);

internal sealed class RawNbdClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _tcp;
    private Stream _stream;
    private ulong _nextCookie = 0x1000;

    private RawNbdClient(TcpClient tcp)
    {
        _tcp = tcp;
        _tcp.NoDelay = true;
        _stream = tcp.GetStream();
    }

    /// <summary>Set by <see cref="OptionAsync"/> when NBD_OPT_STRUCTURED_REPLY is acknowledged.</summary>
    public bool StructuredReplies { get; set; }

    public static async Task<RawNbdClient> ConnectAsync(IPEndPoint endPoint)
    {
        var tcp = new TcpClient(endPoint.AddressFamily);
        try
        {
            using var timeout = new CancellationTokenSource(Timeout);
            await tcp.ConnectAsync(endPoint, timeout.Token);
            return new RawNbdClient(tcp);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    public ulong NextCookie() => Interlocked.Increment(ref _nextCookie);

    /// <summary>After NBD_OPT_STARTTLS was acknowledged: runs the TLS handshake as client; everything after goes through it.</summary>
    /// <param name="clientCertificate">Presented when the server asks for one (with its private key); null presents none.</param>
    public async Task UpgradeToTlsAsync(X509Certificate2 trustedServerCertificate, X509Certificate2? clientCertificate = null)
    {
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == trustedServerCertificate.GetCertHashString());
        using var timeout = new CancellationTokenSource(Timeout);
        await tls.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                LocalCertificateSelectionCallback = clientCertificate is null ? null : (_, _, _, _, _) => clientCertificate,
            },
            timeout.Token);
        _stream = tls;
    }

    // ---- raw bytes ----

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await _stream.WriteAsync(bytes, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"The server did not accept {bytes.Length} bytes within {Timeout}.");
        }
    }

    public async Task<byte[]> ReceiveExactlyAsync(int count, TimeSpan? timeout = null)
    {
        var buffer = new byte[count];
        var limit = timeout ?? Timeout;
        using var cancel = new CancellationTokenSource(limit);
        var received = 0;
        try
        {
            while (received < count)
            {
                var n = await _stream.ReadAsync(buffer.AsMemory(received), cancel.Token);
                if (n == 0)
                {
                    throw new EndOfStreamException($"The server closed the connection after {received} of {count} expected bytes.");
                }

                received += n;
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"The server sent {received} of {count} expected bytes within {limit}.");
        }

        return buffer;
    }

    /// <summary>Reads until the server closes (EOF or reset) and returns what arrived first; throws TimeoutException if it stays open.</summary>
    public async Task<byte[]> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? Timeout;
        using var cancel = new CancellationTokenSource(limit);
        var received = new ArrayBufferWriter<byte>();
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await _stream.ReadAsync(buffer, cancel.Token);
                if (n == 0)
                {
                    return received.WrittenSpan.ToArray();
                }

                received.Write(buffer.AsSpan(0, n));
            }
        }
        catch (IOException)
        {
            return received.WrittenSpan.ToArray(); // reset: closed with unread data on the server side
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"The server kept the connection open for {limit} ({received.WrittenCount} bytes received).");
        }
    }

    /// <summary>Closes with a TCP reset (SO_LINGER 0), the way a crashed client disappears.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Client.Close();
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    // ---- handshake ----

    /// <summary>Reads the 18-byte greeting, checks both magics and returns the handshake flags.</summary>
    public async Task<ushort> ReadGreetingAsync()
    {
        var greeting = await ReceiveExactlyAsync(18);
        Assert.Equal(Wire.NbdMagic, BinaryPrimitives.ReadUInt64BigEndian(greeting));
        Assert.Equal(Wire.IHaveOpt, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        return BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16));
    }

    public Task SendClientFlagsAsync(uint flags)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, flags);
        return SendAsync(bytes);
    }

    /// <summary>Greeting plus client flags (fixed newstyle and no-zeroes by default).</summary>
    public async Task StartHandshakeAsync(uint clientFlags = Wire.ClientFixedNewstyle | Wire.ClientNoZeroes)
    {
        await ReadGreetingAsync();
        await SendClientFlagsAsync(clientFlags);
    }

    public static byte[] EncodeOption(uint option, ReadOnlySpan<byte> data) => OptionWithLength(option, (uint)data.Length, data);

    /// <summary>An option header that may lie about its length.</summary>
    public static byte[] OptionWithLength(uint option, uint declaredLength, ReadOnlySpan<byte> data)
    {
        var bytes = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, Wire.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), declaredLength);
        data.CopyTo(bytes.AsSpan(16));
        return bytes;
    }

    public Task SendOptionAsync(uint option, ReadOnlySpan<byte> data = default) => SendAsync(EncodeOption(option, data));

    public async Task<OptionReply> ReadOptionReplyAsync()
    {
        var header = await ReceiveExactlyAsync(20);
        Assert.Equal(Wire.OptionReplyMagic, BinaryPrimitives.ReadUInt64BigEndian(header));
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        Assert.True(length <= 1 << 20, $"option reply of {length} bytes");
        var data = length == 0 ? [] : await ReceiveExactlyAsync((int)length);
        return new OptionReply(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12)), data);
    }

    /// <summary>Sends an option and reads replies up to the final one (ACK or an error); checks every reply echoes the option.</summary>
    public Task<IReadOnlyList<OptionReply>> OptionAsync(uint option, ReadOnlySpan<byte> data = default) => ExchangeAsync(option, EncodeOption(option, data));

    private async Task<IReadOnlyList<OptionReply>> ExchangeAsync(uint option, byte[] request)
    {
        await SendAsync(request);
        var replies = new List<OptionReply>();
        while (true)
        {
            var reply = await ReadOptionReplyAsync();
            Assert.Equal(option, reply.Option);
            replies.Add(reply);
            if (reply.IsFinal)
            {
                if (option == Wire.OptStructuredReply && reply.Type == Wire.RepAck)
                {
                    StructuredReplies = true;
                }

                return replies;
            }
        }
    }

    /// <summary>NBD_OPT_GO (or INFO); asserts success and returns the NBD_INFO_EXPORT values.</summary>
    public async Task<NegotiatedExport> GoAsync(string name, uint option = Wire.OptGo, params ushort[] infos)
    {
        var replies = await OptionAsync(option, InfoRequest(name, infos));
        Assert.Equal(Wire.RepAck, replies[^1].Type);
        var export = Assert.Single(replies, r => r.Type == Wire.RepInfo && r.InfoType == Wire.InfoExport);
        Assert.Equal(12, export.Data.Length);
        return new NegotiatedExport(BinaryPrimitives.ReadUInt64BigEndian(export.Data.AsSpan(2)), BinaryPrimitives.ReadUInt16BigEndian(export.Data.AsSpan(10)), replies);
    }

    public static byte[] InfoRequest(string name, params ushort[] infos)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var bytes = new byte[4 + nameBytes.Length + 2 + (2 * infos.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)nameBytes.Length);
        nameBytes.CopyTo(bytes, 4);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4 + nameBytes.Length), (ushort)infos.Length);
        for (var i = 0; i < infos.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6 + nameBytes.Length + (2 * i)), infos[i]);
        }

        return bytes;
    }

    public static byte[] MetaContextRequest(string exportName, params string[] queries)
    {
        using var bytes = new MemoryStream();
        WriteString(bytes, exportName);
        WriteUInt32(bytes, (uint)queries.Length);
        foreach (var query in queries)
        {
            WriteString(bytes, query);
        }

        return bytes.ToArray();
    }

    // ---- transmission ----

    public static byte[] Request(ushort flags, ushort command, ulong cookie, ulong offset, uint length, uint magic = Wire.RequestMagic)
    {
        var bytes = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), command);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(24), length);
        return bytes;
    }

    public Task SendRequestAsync(ushort flags, ushort command, ulong cookie, ulong offset, uint length, ReadOnlySpan<byte> payload = default) =>
        SendAsync(payload.IsEmpty ? Request(flags, command, cookie, offset, length) : [.. Request(flags, command, cookie, offset, length), .. payload]);

    /// <summary>Reads one simple reply or structured chunk. A successful simple reply carries data only for reads, so the caller says how much by cookie.</summary>
    public async Task<Reply> ReadReplyAsync(Func<ulong, int>? simpleDataBytes = null, TimeSpan? timeout = null)
    {
        var magic = BinaryPrimitives.ReadUInt32BigEndian(await ReceiveExactlyAsync(4, timeout));
        if (magic == Wire.SimpleReplyMagic)
        {
            var rest = await ReceiveExactlyAsync(12, timeout);
            var errno = BinaryPrimitives.ReadUInt32BigEndian(rest);
            var cookie = BinaryPrimitives.ReadUInt64BigEndian(rest.AsSpan(4));
            var dataBytes = errno == 0 ? simpleDataBytes?.Invoke(cookie) ?? 0 : 0;
            var data = dataBytes == 0 ? [] : await ReceiveExactlyAsync(dataBytes, timeout);
            return new Reply(false, cookie, errno, 0, 0, data);
        }

        Assert.True(magic == Wire.StructuredReplyMagic, $"reply magic 0x{magic:x8}");
        Assert.True(StructuredReplies, "a structured reply without NBD_OPT_STRUCTURED_REPLY");
        var header = await ReceiveExactlyAsync(16, timeout);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(header);
        var type = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        var chunkCookie = BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(4));
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
        Assert.True(length <= 64 << 20, $"structured chunk of {length} bytes");
        var payload = length == 0 ? [] : await ReceiveExactlyAsync((int)length, timeout);
        var chunkErrno = 0u;
        if ((type & 0x8000) != 0)
        {
            Assert.True(payload.Length >= 6, "error chunk shorter than 6 bytes");
            chunkErrno = BinaryPrimitives.ReadUInt32BigEndian(payload);
            Assert.NotEqual(0u, chunkErrno);
            Assert.True(BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(4)) <= payload.Length - 6, "error message longer than the chunk");
        }

        return new Reply(true, chunkCookie, chunkErrno, flags, type, payload);
    }

    /// <summary>Sends one request and reads its (single, final) reply.</summary>
    public async Task<Reply> RequestAsync(ushort command, ulong offset, uint length, ushort flags = 0, ReadOnlyMemory<byte> payload = default, TimeSpan? timeout = null)
    {
        var cookie = NextCookie();
        await SendRequestAsync(flags, command, cookie, offset, length, payload.Span);
        var reply = await ReadReplyAsync(c => c == cookie && command == Wire.CmdRead ? (int)length : 0, timeout);
        Assert.Equal(cookie, reply.Cookie);
        Assert.True(reply.IsDone, "expected a single final chunk");
        return reply;
    }

    public Task<Reply> ReadAsync(ulong offset, uint length, ushort flags = 0) => RequestAsync(Wire.CmdRead, offset, length, flags);

    public Task<Reply> WriteAsync(ulong offset, ReadOnlyMemory<byte> data, ushort flags = 0) => RequestAsync(Wire.CmdWrite, offset, (uint)data.Length, flags, data);

    /// <summary>NBD_CMD_DISC, then waits for the server to close; returns anything it sent first.</summary>
    public async Task<byte[]> DisconnectAsync()
    {
        await SendRequestAsync(0, Wire.CmdDisc, NextCookie(), 0, 0);
        return await WaitForCloseAsync();
    }

    private static void WriteString(MemoryStream stream, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteUInt32(stream, (uint)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteUInt32(MemoryStream stream, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        stream.Write(bytes);
    }
}
