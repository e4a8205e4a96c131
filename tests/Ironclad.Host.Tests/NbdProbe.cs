// Just enough of an NBD client (fixed newstyle handshake, NBD protocol doc "Handshake") to check
// what the host wires up: that a port speaks NBD, which TLS mode it enforces, that STARTTLS
// presents a certificate of the data directory's CA and that the export list is what the host
// registered. Data transfer is tested with real clients (qemu, libnbd) elsewhere.
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

internal sealed class NbdProbe : IAsyncDisposable
{
    public const ulong NbdMagic = 0x4e42444d41474943;        // "NBDMAGIC"
    public const ulong OptionMagic = 0x49484156454f5054;     // "IHAVEOPT"
    public const ulong ReplyMagic = 0x0003e889045565a9;
    public const uint OptionAbort = 2;
    public const uint OptionList = 3;
    public const uint OptionStartTls = 5;
    public const uint ReplyAck = 1;
    public const uint ReplyServer = 2;
    public const uint ReplyErrorTlsRequired = (1u << 31) + 5;

    private const uint ClientFixedNewstyleNoZeroes = 1 | 2;

    private readonly TcpClient _tcp;
    private Stream _stream;

    private NbdProbe(TcpClient tcp, Stream stream, ushort handshakeFlags)
    {
        _tcp = tcp;
        _stream = stream;
        HandshakeFlags = handshakeFlags;
    }

    public ushort HandshakeFlags { get; }

    /// <summary>Connects, checks the greeting's magic numbers and answers with fixed-newstyle client flags.</summary>
    public static async Task<NbdProbe> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var tcp = new TcpClient(endPoint.AddressFamily);
        try
        {
            await tcp.ConnectAsync(endPoint, cancellationToken);
            var stream = tcp.GetStream();
            var greeting = new byte[18];
            await stream.ReadExactlyAsync(greeting, cancellationToken);
            Assert.Equal(NbdMagic, BinaryPrimitives.ReadUInt64BigEndian(greeting));
            Assert.Equal(OptionMagic, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
            var flags = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(flags, ClientFixedNewstyleNoZeroes);
            await stream.WriteAsync(flags, cancellationToken);
            return new NbdProbe(tcp, stream, BinaryPrimitives.ReadUInt16BigEndian(greeting.AsSpan(16)));
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends one option and reads replies up to and including the final one (anything but NBD_REP_SERVER).</summary>
    public async Task<IReadOnlyList<(uint Type, byte[] Data)>> OptionAsync(uint option, byte[] data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        var header = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(header, OptionMagic);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), (uint)data.Length);
        await _stream.WriteAsync(header, cancellationToken);
        await _stream.WriteAsync(data, cancellationToken);
        await _stream.FlushAsync(cancellationToken);

        var replies = new List<(uint, byte[])>();
        while (true)
        {
            var reply = new byte[20];
            await _stream.ReadExactlyAsync(reply, cancellationToken);
            Assert.Equal(ReplyMagic, BinaryPrimitives.ReadUInt64BigEndian(reply));
            Assert.Equal(option, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(8)));
            var type = BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(12));
            var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(16))];
            await _stream.ReadExactlyAsync(payload, cancellationToken);
            replies.Add((type, payload));
            if (type != ReplyServer)
            {
                return replies;
            }
        }
    }

    /// <summary>NBD_OPT_LIST: the export names, or throws if the server answers with an error.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken)
    {
        var replies = await OptionAsync(OptionList, [], cancellationToken);
        Assert.Equal(ReplyAck, replies[^1].Type);
        return [.. replies.Where(r => r.Type == ReplyServer).Select(r =>
            Encoding.UTF8.GetString(r.Data, 4, (int)BinaryPrimitives.ReadUInt32BigEndian(r.Data)))];
    }

    /// <summary>
    /// NBD_OPT_STARTTLS, then a TLS handshake that trusts only <paramref name="caCertificatePath"/>
    /// (name and chain checked); returns the certificate the server presented.
    /// </summary>
    public async Task<X509Certificate2> StartTlsAsync(
        string caCertificatePath, X509Certificate2? clientCertificate, CancellationToken cancellationToken)
    {
        var replies = await OptionAsync(OptionStartTls, [], cancellationToken);
        Assert.Equal(ReplyAck, Assert.Single(replies).Type);
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
        X509Certificate2? presented = null;
        await tls.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                CertificateChainPolicy = CaTrust.ChainPolicy(CaTrust.LoadCertificate(caCertificatePath)),
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    presented = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    return errors == SslPolicyErrors.None;
                },
            },
            cancellationToken);
        _stream = tls;
        return presented ?? throw new InvalidOperationException("The server presented no certificate.");
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
