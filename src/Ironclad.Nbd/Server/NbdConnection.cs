// One client connection: the fixed-newstyle handshake (this file) and then the transmission phase
// (NbdConnection.Transmission.cs). Hostile input gets the protocol's error reply or a closed
// connection; nothing a client sends can crash the server or make it wait forever (the handshake
// has a deadline, options and strings have size limits).
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ironclad.Nbd.Exports;
using Ironclad.Nbd.Protocol;
using Microsoft.Extensions.Logging;

namespace Ironclad.Nbd.Server;

internal sealed partial class NbdConnection : IAsyncDisposable
{
    private const int OptionBytesMax = 64 * 1024;
    private const int OptionsMax = 1024;
    private const int BlockSizeMinimum = 512;
    private const int BlockSizePreferred = 4096;

    private readonly NbdServerOptions _options;
    private readonly INbdExportCatalog _catalog;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly EndPoint? _remote;
    private NbdTransport _transport;
    private bool _tls;
    private string? _clientSubject;
    private bool _noZeroes;
    private bool _structuredReplies;
    private string? _metaContextExport;
    private bool _baseAllocationSelected;

    public NbdConnection(Socket socket, NbdServerOptions options, INbdExportCatalog catalog, ILogger logger)
    {
        _socket = socket;
        _options = options;
        _catalog = catalog;
        _logger = logger;
        _remote = socket.RemoteEndPoint;
        _transport = new SocketTransport(socket);
    }

    private NbdClient Client => new(_remote, _tls, _clientSubject);

    private bool TlsRequired => _options.TlsMode != NbdTlsMode.Off;

    public async Task RunAsync(CancellationToken shutdown)
    {
        string reason = "client disconnected";
        try
        {
            NbdLog.Accepted(_logger, _remote);
            ExportSession? session;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(shutdown))
            {
                deadline.CancelAfter(_options.HandshakeTimeout);
                try
                {
                    session = await NegotiateAsync(deadline.Token);
                }
                catch (OperationCanceledException) when (!shutdown.IsCancellationRequested)
                {
                    reason = "handshake took longer than " + _options.HandshakeTimeout;
                    return;
                }
            }

            if (session is null)
            {
                reason = "handshake ended without an export";
                return;
            }

            await using (session)
            {
                NbdLog.ExportAttached(_logger, _remote, session.Name, _tls, _structuredReplies);
                reason = await TransmitAsync(session, shutdown);
            }
        }
        catch (ProtocolViolationException e)
        {
            reason = e.Message;
            NbdLog.ProtocolViolation(_logger, _remote, e.Message);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or SocketException or ObjectDisposedException)
        {
            reason = "connection lost: " + e.GetType().Name;
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            reason = "server shutting down";
        }
        catch (Exception e)
        {
            reason = "unexpected failure: " + e.GetType().Name;
            NbdLog.ConnectionFailed(_logger, _remote, e);
        }
        finally
        {
            NbdLog.Closed(_logger, _remote, reason);
            await _transport.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => _transport.DisposeAsync();

    /// <summary>Runs option haggling; returns the session to serve, or null if the client left.</summary>
    private async Task<ExportSession?> NegotiateAsync(CancellationToken cancellationToken)
    {
        var greeting = new byte[18];
        BinaryPrimitives.WriteUInt64BigEndian(greeting, NbdMagic.InitPassword);
        BinaryPrimitives.WriteUInt64BigEndian(greeting.AsSpan(8), NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(greeting.AsSpan(16), (ushort)(HandshakeFlags.FixedNewstyle | HandshakeFlags.NoZeroes));
        await _transport.SendAsync(greeting, ReadOnlyMemory<byte>.Empty, cancellationToken);

        var clientFlagBytes = new byte[4];
        await _transport.ReceiveExactlyAsync(clientFlagBytes, cancellationToken);
        var clientFlags = (ClientFlags)BinaryPrimitives.ReadUInt32BigEndian(clientFlagBytes);
        if ((clientFlags & ~(ClientFlags.FixedNewstyle | ClientFlags.NoZeroes)) != 0)
        {
            throw new ProtocolViolationException($"unknown client flags 0x{(uint)clientFlags:x}");
        }

        // Without fixed newstyle only EXPORT_NAME is possible, and TLS cannot be negotiated.
        var fixedNewstyle = (clientFlags & ClientFlags.FixedNewstyle) != 0;
        _noZeroes = (clientFlags & ClientFlags.NoZeroes) != 0;

        var header = new byte[16];
        for (var count = 0; count < OptionsMax; count++)
        {
            await _transport.ReceiveExactlyAsync(header, cancellationToken);
            if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdMagic.IHaveOpt)
            {
                throw new ProtocolViolationException("option without the IHAVEOPT magic");
            }

            var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
            var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
            if (length > OptionBytesMax)
            {
                throw new ProtocolViolationException($"option {(uint)option} carries {length} bytes (limit {OptionBytesMax})");
            }

            var data = new byte[length];
            await _transport.ReceiveExactlyAsync(data, cancellationToken);

            if (option == NbdOption.ExportName)
            {
                return await ExportNameAsync(data, cancellationToken);
            }

            if (!fixedNewstyle)
            {
                throw new ProtocolViolationException("option other than EXPORT_NAME without fixed newstyle");
            }

            if (TlsRequired && !_tls && option is not (NbdOption.StartTls or NbdOption.Abort))
            {
                await ReplyErrorAsync(option, OptionReplyType.ErrTlsRequired, "TLS is required: send NBD_OPT_STARTTLS first", cancellationToken);
                continue;
            }

            switch (option)
            {
                case NbdOption.Abort:
                    await TryReplyAsync(option, OptionReplyType.Ack, cancellationToken);
                    return null;
                case NbdOption.List:
                    await ListAsync(data, cancellationToken);
                    break;
                case NbdOption.StartTls:
                    await StartTlsAsync(data, cancellationToken);
                    break;
                case NbdOption.Info:
                case NbdOption.Go:
                    var session = await InfoOrGoAsync(option, data, cancellationToken);
                    if (session is not null)
                    {
                        return session;
                    }

                    break;
                case NbdOption.StructuredReply:
                    if (data.Length != 0)
                    {
                        await ReplyErrorAsync(option, OptionReplyType.ErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data", cancellationToken);
                        break;
                    }

                    _structuredReplies = true;
                    await ReplyAsync(option, OptionReplyType.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken);
                    break;
                case NbdOption.ListMetaContext:
                case NbdOption.SetMetaContext:
                    await MetaContextAsync(option, data, cancellationToken);
                    break;
                default:
                    await ReplyErrorAsync(option, OptionReplyType.ErrUnsupported, $"option {(uint)option} is not supported", cancellationToken);
                    break;
            }
        }

        throw new ProtocolViolationException($"more than {OptionsMax} options without choosing an export");
    }

    private async Task<ExportSession?> ExportNameAsync(byte[] data, CancellationToken cancellationToken)
    {
        // NBD_OPT_EXPORT_NAME cannot return an error: anything wrong ends the session.
        if (TlsRequired && !_tls)
        {
            throw new ProtocolViolationException("NBD_OPT_EXPORT_NAME before TLS on a TLS-only server");
        }

        if (!OptionPayloads.TryParseExportName(data, out var name))
        {
            throw new ProtocolViolationException("malformed export name");
        }

        var export = _catalog.Open(name, Client);
        if (export is null)
        {
            NbdLog.ExportRefused(_logger, _remote, name);
            return null;
        }

        var session = new ExportSession(name, export, TransmissionFlagsFor(export));
        var reply = new byte[_noZeroes ? 10 : 134];
        BinaryPrimitives.WriteUInt64BigEndian(reply, (ulong)export.SizeBytes);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), (ushort)session.Flags);
        try
        {
            await _transport.SendAsync(reply, ReadOnlyMemory<byte>.Empty, cancellationToken);
        }
        catch
        {
            export.Dispose(); // the client never got it
            throw;
        }

        _baseAllocationSelected = false; // meta contexts need NBD_OPT_GO
        return session;
    }

    private async Task ListAsync(byte[] data, CancellationToken cancellationToken)
    {
        if (data.Length != 0)
        {
            await ReplyErrorAsync(NbdOption.List, OptionReplyType.ErrInvalid, "NBD_OPT_LIST takes no data", cancellationToken);
            return;
        }

        foreach (var export in _catalog.List(Client))
        {
            var name = Encoding.UTF8.GetBytes(export.Name);
            var description = Encoding.UTF8.GetBytes(export.Description ?? "");
            var payload = new byte[4 + name.Length + description.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)name.Length);
            name.CopyTo(payload, 4);
            description.CopyTo(payload, 4 + name.Length);
            await ReplyAsync(NbdOption.List, OptionReplyType.Server, payload, cancellationToken);
        }

        await ReplyAsync(NbdOption.List, OptionReplyType.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async Task StartTlsAsync(byte[] data, CancellationToken cancellationToken)
    {
        if (data.Length != 0)
        {
            await ReplyErrorAsync(NbdOption.StartTls, OptionReplyType.ErrInvalid, "NBD_OPT_STARTTLS takes no data", cancellationToken);
            return;
        }

        if (!TlsRequired)
        {
            await ReplyErrorAsync(NbdOption.StartTls, OptionReplyType.ErrPolicy, "this server is configured without TLS", cancellationToken);
            return;
        }

        if (_tls)
        {
            await ReplyErrorAsync(NbdOption.StartTls, OptionReplyType.ErrInvalid, "TLS is already active", cancellationToken);
            return;
        }

        await ReplyAsync(NbdOption.StartTls, OptionReplyType.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken);
        var stream = new SslStream(new NetworkStream(_socket, ownsSocket: false), leaveInnerStreamOpen: false);
        // Mutual: a certificate chaining to the CA is demanded. Required with a CA: one is asked for but
        // optional — none means an anonymous TLS client; one that does not chain to the CA (with
        // clientAuth) fails the handshake. Only a validated certificate's subject reaches the catalog.
        var requireClientCertificate = _options.TlsMode == NbdTlsMode.RequiredWithClientCertificate;
        var askForClientCertificate = requireClientCertificate || _options.ClientCertificateAuthority is not null;
        var validated = false;
        try
        {
            await stream.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions
                {
                    ServerCertificate = _options.ServerCertificate,
                    ClientCertificateRequired = askForClientCertificate,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    {
                        if (!askForClientCertificate)
                        {
                            return true;
                        }

                        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
                        {
                            return !requireClientCertificate;
                        }

                        validated = ClientCertificateIsTrusted(certificate);
                        return validated;
                    },
                },
                cancellationToken);
        }
        catch (AuthenticationException e)
        {
            await stream.DisposeAsync();
            NbdLog.TlsFailed(_logger, _remote, e.Message);
            throw new ProtocolViolationException("TLS handshake failed");
        }

        _transport = new TlsTransport(stream, _socket);
        _tls = true;
        _clientSubject = validated ? stream.RemoteCertificate?.Subject : null;
    }

    private bool ClientCertificateIsTrusted(X509Certificate presented)
    {
        if (_options.ClientCertificateAuthority is null)
        {
            return false;
        }

        using var certificate = new X509Certificate2(presented);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_options.ClientCertificateAuthority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
        return chain.Build(certificate);
    }

    private async Task<ExportSession?> InfoOrGoAsync(NbdOption option, byte[] data, CancellationToken cancellationToken)
    {
        if (!OptionPayloads.TryParseInfoRequest(data, out var name, out var requested))
        {
            await ReplyErrorAsync(option, OptionReplyType.ErrInvalid, "malformed NBD_OPT_INFO/GO request", cancellationToken);
            return null;
        }

        INbdExport? export = null;
        NbdExportDescription? description;
        if (option == NbdOption.Go)
        {
            export = _catalog.Open(name, Client);
            description = export is null ? null : _catalog.Describe(name, Client) ?? new NbdExportDescription(name, null, export.SizeBytes, export.IsReadOnly, export.CanMultiConnect);
        }
        else
        {
            description = _catalog.Describe(name, Client);
        }

        if (description is null)
        {
            NbdLog.ExportRefused(_logger, _remote, name);
            await ReplyErrorAsync(option, OptionReplyType.ErrUnknown, $"no export named '{Truncate(name)}'", cancellationToken);
            return null;
        }

        try
        {
            await SendInfoRepliesAsync(option, description, export, requested, cancellationToken);
        }
        catch
        {
            export?.Dispose(); // opened for a client that never got the reply
            throw;
        }

        if (export is null)
        {
            return null;
        }

        if (_metaContextExport != name)
        {
            _baseAllocationSelected = false; // contexts were chosen for another export
        }

        return new ExportSession(name, export, TransmissionFlagsFor(description.IsReadOnly, description.CanMultiConnect));
    }

    private async Task SendInfoRepliesAsync(NbdOption option, NbdExportDescription description, INbdExport? export, InfoType[] requested, CancellationToken cancellationToken)
    {
        var flags = TransmissionFlagsFor(description.IsReadOnly, description.CanMultiConnect);
        var info = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)InfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(info.AsSpan(2), (ulong)(export?.SizeBytes ?? description.SizeBytes));
        BinaryPrimitives.WriteUInt16BigEndian(info.AsSpan(10), (ushort)flags);
        await ReplyAsync(option, OptionReplyType.Info, info, cancellationToken);

        if (requested.Contains(InfoType.Name))
        {
            await ReplyAsync(option, OptionReplyType.Info, InfoString(InfoType.Name, description.Name), cancellationToken);
        }

        if (requested.Contains(InfoType.Description) && description.Description is { Length: > 0 } text)
        {
            await ReplyAsync(option, OptionReplyType.Info, InfoString(InfoType.Description, text), cancellationToken);
        }

        // Sent whether or not it was asked for: the protocol allows it, and clients honour it.
        var blockSize = new byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(blockSize, (ushort)InfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(2), BlockSizeMinimum);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(6), BlockSizePreferred);
        BinaryPrimitives.WriteUInt32BigEndian(blockSize.AsSpan(10), (uint)_options.PayloadBytesMax);
        await ReplyAsync(option, OptionReplyType.Info, blockSize, cancellationToken);
        await ReplyAsync(option, OptionReplyType.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private async Task MetaContextAsync(NbdOption option, byte[] data, CancellationToken cancellationToken)
    {
        if (!_structuredReplies)
        {
            await ReplyErrorAsync(option, OptionReplyType.ErrInvalid, "negotiate NBD_OPT_STRUCTURED_REPLY first", cancellationToken);
            return;
        }

        if (!OptionPayloads.TryParseMetaContextRequest(data, out var exportName, out var queries))
        {
            await ReplyErrorAsync(option, OptionReplyType.ErrInvalid, "malformed meta context request", cancellationToken);
            return;
        }

        if (_catalog.Describe(exportName, Client) is null)
        {
            await ReplyErrorAsync(option, OptionReplyType.ErrUnknown, $"no export named '{Truncate(exportName)}'", cancellationToken);
            return;
        }

        var list = option == NbdOption.ListMetaContext;
        var matches = queries.Length == 0
            ? list
            : queries.Any(q => q == MetaContexts.BaseAllocation || (list && q == "base:"));
        if (!list)
        {
            _metaContextExport = exportName;
            _baseAllocationSelected = matches;
        }

        if (matches)
        {
            var name = Encoding.UTF8.GetBytes(MetaContexts.BaseAllocation);
            var payload = new byte[4 + name.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, list ? 0u : MetaContexts.BaseAllocationId);
            name.CopyTo(payload, 4);
            await ReplyAsync(option, OptionReplyType.MetaContext, payload, cancellationToken);
        }

        await ReplyAsync(option, OptionReplyType.Ack, ReadOnlyMemory<byte>.Empty, cancellationToken);
    }

    private TransmissionFlags TransmissionFlagsFor(INbdExport export) => TransmissionFlagsFor(export.IsReadOnly, export.CanMultiConnect);

    private TransmissionFlags TransmissionFlagsFor(bool readOnly, bool canMultiConnect)
    {
        var flags = TransmissionFlags.HasFlags | TransmissionFlags.SendFlush | TransmissionFlags.SendFua | TransmissionFlags.SendCache;
        flags |= readOnly
            ? TransmissionFlags.ReadOnly
            : TransmissionFlags.SendTrim | TransmissionFlags.SendWriteZeroes | TransmissionFlags.SendFastZero;
        if (_structuredReplies)
        {
            flags |= TransmissionFlags.SendDf;
        }

        if (canMultiConnect)
        {
            flags |= TransmissionFlags.CanMultiConn;
        }

        return flags;
    }

    private static byte[] InfoString(InfoType type, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var payload = new byte[2 + bytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)type);
        bytes.CopyTo(payload, 2);
        return payload;
    }

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";

    private Task ReplyErrorAsync(NbdOption option, OptionReplyType type, string message, CancellationToken cancellationToken) =>
        ReplyAsync(option, type, Encoding.UTF8.GetBytes(message), cancellationToken);

    private async Task ReplyAsync(NbdOption option, OptionReplyType type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var header = new byte[20];
        BinaryPrimitives.WriteUInt64BigEndian(header, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(16), (uint)payload.Length);
        await _transport.SendAsync(header, payload, cancellationToken);
    }

    /// <summary>For ABORT: the client may already be gone, which is fine.</summary>
    private async Task TryReplyAsync(NbdOption option, OptionReplyType type, CancellationToken cancellationToken)
    {
        try
        {
            await ReplyAsync(option, type, ReadOnlyMemory<byte>.Empty, cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // The spec lets the client close right after NBD_OPT_ABORT without reading the reply.
        }
    }

    /// <summary>An export attached to this connection for the transmission phase.</summary>
    private sealed class ExportSession(string name, INbdExport export, TransmissionFlags flags) : IAsyncDisposable
    {
        public string Name => name;

        public INbdExport Export => export;

        public TransmissionFlags Flags => flags;

        public ValueTask DisposeAsync()
        {
            export.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>The client broke a MUST of the protocol: the connection is dropped.</summary>
internal sealed class ProtocolViolationException(string message) : Exception(message);
