// Reading and writing the PEM files of the local CA and server certificate. Private keys are
// PKCS#8 PEM, mode 0600, and every buffer that held key material is zeroed before it is dropped
// (strings cannot be zeroed, so key PEM never passes through one).
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ironclad.Host.Data;

namespace Ironclad.Host.Tls;

internal static class PemFiles
{
    private const string PrivateKeyLabel = "PRIVATE KEY";

    public static void WritePrivateKey(string path, ECDsa key)
    {
        var der = key.ExportPkcs8PrivateKey();
        var pem = PemEncoding.Write(PrivateKeyLabel, der);
        var bytes = new byte[Encoding.ASCII.GetByteCount(pem) + 1];
        try
        {
            var written = Encoding.ASCII.GetBytes(pem, bytes);
            bytes[written] = (byte)'\n';
            AtomicFile.WriteOwnerOnly(path, bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
            CryptographicOperations.ZeroMemory(bytes);
            Array.Clear(pem);
        }
    }

    /// <summary>Reads an ECDSA private key; throws <see cref="CryptographicException"/> if the file holds none.</summary>
    public static ECDsa ReadEcdsaPrivateKey(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var chars = new char[bytes.Length];
        try
        {
            var count = Encoding.ASCII.GetChars(bytes, chars);
            var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(chars.AsSpan(0, count));
                return key;
            }
            catch
            {
                key.Dispose();
                throw;
            }
        }
        catch (ArgumentException e)
        {
            throw new CryptographicException($"'{path}' holds no ECDSA private key in PEM form.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
            Array.Clear(chars);
        }
    }

    public static void WriteCertificate(string path, X509Certificate2 certificate) =>
        AtomicFile.WriteOwnerOnly(path, Encoding.ASCII.GetBytes(certificate.ExportCertificatePem() + "\n"));

    /// <summary>Writes a certificate (no key) readable by everyone, for programs that may run as another user (qemu).</summary>
    public static void WritePublicCertificate(string path, X509Certificate2 certificate) =>
        AtomicFile.Write(path, Encoding.ASCII.GetBytes(certificate.ExportCertificatePem() + "\n"), UnixFileModes.PublicFile);

    /// <summary>Reads the first certificate of a PEM file; throws <see cref="CryptographicException"/> if there is none.</summary>
    public static X509Certificate2 ReadCertificate(string path) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(path));
}
