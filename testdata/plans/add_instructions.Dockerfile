FROM alpine
ADD https://example.com/archive.tar.gz /downloads/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/file.txt /file.txt
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.13.0 /buildkit
ADD --chown=1000:1000 --chmod=644 --unpack=false local.tar.gz /opt/
ADD --link --exclude=*.tmp files/ /files/
